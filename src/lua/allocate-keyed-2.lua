--[[
  allocate-keyed-2: a grant recorded under an Idempotency-Key, or the grant recorded
  before under the same key replayed (docs/design.md §5 "Idempotency keys").

  KEYS[1]  the tag hash, {prefix}tag:{name}
  KEYS[2]  the key's record, {<KEYS[1]>}:idem:<hex> (keys.ts: in KEYS[1]'s Cluster slot)
  ARGV[1]  count: how many IDs, 1..2^52, all or nothing
  ARGV[2]  the node's region count (REGION=i/N: N), 1..1024
  ARGV[3]  the request's parameters, '<kind>:<count>' (kind id, ids or range)
  ARGV[4]  the node's region index (REGION=i/N: i), 0..1023: kept in the record, so a
           replay on a node of another region formats the same IDs
  ARGV[5]  how long the record is kept, ms (IDEMPOTENCY_TTL_SECONDS × 1000)

  Returns
    {start, end, step, max, bumped, run_id, skipped, shape, prefix, width, key, regions,
     region, replay}
        the 12 fields of allocate-1, then the region index the IDs are formatted for and
        replay '1' when the record existed (nothing granted: start..end, region and
        run_id are the record's, bumped '0', skipped '0'; the record is written again
        unchanged, so a WAIT after the replay covers the first grant too), else '0'
        (a fresh grant, recorded with PX ARGV[5])
    -1, -2, -3, -4, -13   as allocate-1 (nothing written)
    -16 IDEMPOTENCY_MISMATCH  the key was recorded with other parameters (nothing written)
    an error reply     an argument malformed, a damaged record, or no run_id
]]
local rcall = redis.call
-- @include decimal
-- @include tag
-- @include allocate

local key, record = KEYS[1], KEYS[2]
local script = 'allocate-keyed-2'
if not small_valid(ARGV[1], 1) then
  return bad_argument(script, "count '" .. tostring(ARGV[1]) .. "' is not 1..2^52")
end
local node_regions = ARGV[2]
if not SHAPE_FORM.regions(node_regions) then
  return bad_argument(script, "regions '" .. tostring(node_regions) .. "' is not 1..1024")
end
local params = ARGV[3]
if type(params) ~= 'string' or not string.match(params, '^[a-z]+:%d+$') then
  return bad_argument(script, "parameters '" .. tostring(params) .. "' are not kind:count")
end
local region = ARGV[4]
if type(region) ~= 'string' or not string.match(region, '^%d+$') or tonumber(region) >= tonumber(node_regions) then
  return bad_argument(script, "region '" .. tostring(region) .. "' is not 0..regions-1")
end
if not small_valid(ARGV[5], 1) then
  return bad_argument(script, "retention '" .. tostring(ARGV[5]) .. "' is not 1..2^52 ms")
end

-- A record: params|start|end|region|run_id.
local stored = rcall('GET', record)
if stored then
  local p, s, e, r, inc = string.match(stored, '^([a-z]+:%d+)|(%d+)|(%d+)|(%d+)|(%x+)$')
  if not p then return bad_argument(script, 'the record of this key is damaged') end
  if p ~= params then return -16 end
  -- The tag as it is now: its step, max and shape (fixed once it issued these IDs).
  local t, refused = read_segment_tag(key)
  if not t then return refused end
  if (t.regions or '1') ~= node_regions then return -13 end
  -- Written again as it is (KEEPTTL): the WAIT after a replay then covers the grant.
  rcall('SET', record, stored, 'KEEPTTL')
  return {s, e, t.step, t.max, '0', inc, '0',
    t.shape or '', t.prefix or '', t.width or '', t.key or '', t.regions or '', r, '1'}
end

local g = grant_segment(script, key, tonumber(ARGV[1]), true, node_regions)
if type(g) ~= 'table' or g.err then return g end
rcall('SET', record, table.concat({params, g[1], g[2], region, g[6]}, '|'), 'PX', ARGV[5])
g[13] = region
g[14] = '0'
return g
