--[[
  update-1: change a tag's settings (SPEC §3 `tag update`).

  KEYS[1]  the tag hash, {prefix}tag:{name}
  ARGV     field, value pairs, each field one of step, max, gap, description; the caller
           has checked every value's form (step 1..2^52, gap 0..2^52, max a decimal string)

  Returns
    1   updated
    -1  TAG_NOT_FOUND
    -3  WRONG_MODE      step, max or gap asked of a snowflake tag
    -7  MAX_BELOW_NEXT  max below IDs already issued (max must be at least next - 1)
]]
local rcall = redis.call
-- @include decimal
-- @include tag

local key = KEYS[1]
local t = read_tag(key)
if not t then return -1 end

for i = 1, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if field ~= 'description' and t.mode ~= 'segment' then return -3 end
  -- A max below what was handed out would not take those IDs back: refuse it.
  if field == 'max' and dec_cmp(dec_add(value, 1), t.next) < 0 then return -7 end
end

rcall('HSET', key, unpack(ARGV))
return 1
