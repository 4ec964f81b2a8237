--[[
  bump-1: raise a segment tag's next ID; never lowers it (docs/design.md §3 `tag bump`, §8.4, §8.6).

  KEYS[1]  the tag hash, {prefix}tag:{name}
  ARGV[1]  how: 'to' (set next to ARGV[2], refused if that is lower),
                'by' (add ARGV[2], an integer from 0 to 2^52),
                'atleast' (raise next to ARGV[2] if below it; otherwise leave it)
  ARGV[2]  the value: a decimal string

  Returns
    {old_next, new_next, clamped}  clamped '1' when the target passed max + 1 and next
                                   stopped there (the tag is then exhausted)
    -1  TAG_NOT_FOUND
    -2  TAG_DAMAGED
    -3  WRONG_MODE     not a segment tag
    -5  WOULD_LOWER    'to' a value below the current next
    an error reply     how or value malformed (a caller's bug), or no run_id in INFO
                       server; nothing written

  A counter another server wrote last first skips its gap (as in allocate-1); the bump
  starts from there.
]]
local rcall = redis.call
-- @include decimal
-- @include tag

local key, how, value = KEYS[1], ARGV[1], ARGV[2]
-- A malformed value written as next would damage the tag: refuse before reading it.
if how == 'by' then
  if not small_valid(value, 0) then
    return bad_argument('bump-1', "by '" .. tostring(value) .. "' is not an integer from 0 to 2^52")
  end
elseif how == 'to' or how == 'atleast' then
  if not dec_valid(value) then
    return bad_argument('bump-1', how .. " '" .. tostring(value) .. "' is not a decimal ID")
  end
else
  return bad_argument('bump-1', "how '" .. tostring(how) .. "' is not to, by or atleast")
end

local t, refused = read_segment_tag(key)
if not t then return refused end

-- A counter another server wrote last first skips its gap: a bump starts from there.
local run_id = server_run_id()
if not run_id then return no_run_id('bump-1') end
apply_incarnation(key, t, run_id)

local old_next = t.next
local target
if how == 'by' then
  target = dec_add(old_next, tonumber(value))
elseif how == 'to' then
  if dec_cmp(value, old_next) < 0 then return -5 end
  target = value
else
  target = dec_max(old_next, value)
end

-- Past max + 1 there is nothing to protect: stop there (and stay within 20 digits).
local clamped = '0'
local max_plus_one = dec_add(t.max, 1)
if dec_cmp(target, max_plus_one) > 0 then
  target = dec_max(old_next, max_plus_one)
  clamped = '1'
end

if target ~= old_next then rcall('HSET', key, 'next', target) end
return {old_next, target, clamped}
