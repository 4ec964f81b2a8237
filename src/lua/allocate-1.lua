--[[
  allocate-1: grant the next range of IDs of a segment tag (docs/design.md §4, §5, §8.1, §8.2).

  KEYS[1]  the tag hash, {prefix}tag:{name}
  ARGV[1]  count: how many IDs are wanted, an integer from 1 to 2^52, or 0 for the
           tag's configured step (a node's first fetch, before it knows the step)
  ARGV[2]  '1': all of count or nothing (a range leased to a caller);
           '0': grant fewer when the tag's max leaves fewer (a segment)
  ARGV[3]  the node's region count (REGION=i/N: N), 1..1024; absent (older callers): 1

  Returns
    {start, end, step, max, bumped, run_id, skipped, shape, prefix, width, key, regions}
        start..end inclusive, decimal strings; step and max as the tag has them now
        (so nodes follow `tag update` without polling); bumped '1' when the
        incarnation guard raised next by the gap before this grant, else '0';
        run_id the executing server's (the grant's incarnation, for the grant log);
        skipped how many IDs that raise passed over (decimal, '0' when not bumped);
        the tag's shape fields as stored ('' where absent: plain, one region), so
        nodes shape the IDs without another read
    -1  TAG_NOT_FOUND  no such tag (or only a deleted tag's tombstone)
    -2  TAG_DAMAGED    the hash lacks a valid next, max, step or gap: fail closed, never
                       a counter started afresh
    -3  WRONG_MODE     not a segment tag
    -4  TAG_EXHAUSTED  nothing left below max (exact: fewer than count left)
    -13 WRONG_REGION   the tag's region count is not the node's: nothing written (the
                       caller reads the tag's count to name it)
    an error reply     count or exact malformed (a caller's bug), or no run_id in INFO
                       server; nothing written
]]
local rcall = redis.call
-- @include decimal
-- @include tag

local key = KEYS[1]
if ARGV[1] ~= '0' and not small_valid(ARGV[1], 1) then
  return bad_argument('allocate-1', "count '" .. tostring(ARGV[1]) .. "' is not 0 or 1..2^52")
end
if ARGV[2] ~= '0' and ARGV[2] ~= '1' then
  return bad_argument('allocate-1', "exact '" .. tostring(ARGV[2]) .. "' is not '0' or '1'")
end
local node_regions = ARGV[3] or '1'
if not SHAPE_FORM.regions(node_regions) then
  return bad_argument('allocate-1', "regions '" .. tostring(ARGV[3]) .. "' is not 1..1024")
end
local count = tonumber(ARGV[1])
local exact = ARGV[2] == '1'

-- Fail closed: allocation never creates a tag, and never trusts a damaged one.
local t = read_tag(key)
if not t then return -1 end
if t.mode ~= 'segment' then
  if t.mode == 'snowflake' then return -3 end
  return -2
end
if not segment_fields_valid(t) then return -2 end
if count == 0 then count = tonumber(t.step) end
-- Before anything moves: a node of another region count would issue IDs of another
-- region's residues (c·N + i with the wrong N).
if (t.regions or '1') ~= node_regions then return -13 end

-- Incarnation guard: skip the safety gap first if another server wrote last.
local run_id = server_run_id()
if not run_id then return no_run_id('allocate-1') end
local before = t.next
local bumped = apply_incarnation(key, t, run_id)
local next_id = t.next
local skipped = string.format('%.0f', dec_sub(next_id, before))
local max_plus_one = dec_add(t.max, 1)

-- What is left below max decides the size of the grant.
local room = dec_sub(max_plus_one, next_id)
if room <= 0 then return -4 end
if room < count then
  if exact then return -4 end
  count = room
end

local last = dec_add(next_id, count - 1)
rcall('HSET', key, 'next', dec_add(next_id, count))
return {next_id, last, t.step, t.max, bumped, run_id, skipped,
  t.shape or '', t.prefix or '', t.width or '', t.key or '', t.regions or ''}
