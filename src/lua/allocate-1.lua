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
-- @include allocate

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
return grant_segment('allocate-1', key, tonumber(ARGV[1]), ARGV[2] == '1', node_regions)
