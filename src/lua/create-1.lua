--[[
  create-1: create a tag (docs/design.md §3 `tag create`, §8.1).

  KEYS[1]  the tag hash, {prefix}tag:{name}
  ARGV[1]  mode: 'segment' or 'snowflake'
  ARGV[2]  step: an integer from 1 to 2^52
  ARGV[3]  start: the first ID, a decimal string
  ARGV[4]  max: the last ID that may be issued, a decimal string above start
  ARGV[5]  gap: the incarnation safety gap, an integer from 0 to 2^52
  ARGV[6]  description (may be empty)
  ARGV[7]  created_at: milliseconds since the Unix epoch
  ARGV[8..12]  segment tags: shape (plain, bitreverse, permute), prefix, width, key
           ('' when the shape has none) and regions (1..1024); absent (older callers):
           plain, one region. Stored with `first`, the tag's first counter value, which
           tells update-1 whether the tag has issued IDs (docs/design.md §13)

  A snowflake tag has no counter: its hash holds no next, except the floor of a deleted
  segment tag's tombstone, kept with that tag's shape fields so that both outlive this
  tag too (delete-1 leaves a tombstone wherever the hash holds a next).

  A segment tag created over a tombstone with a floor must have the deleted tag's
  numeric shape (tag.lua's number_signature: kind, width, key, regions; a tombstone
  without those fields, of an older version, is plain, one region): under another
  bijection its new counter values could map onto IDs the deleted tag issued.

  Returns
    {next, raised}  the tag's first ID (segment tags; the floor or '' for snowflake
                    tags); raised '1' when a deleted tag of the same name had issued IDs
                    at or above start, so a segment tag's next starts above them instead
    -6  TAG_EXISTS      a live tag has this name
    -7  MAX_BELOW_NEXT  the deleted tag's IDs already reach max
    -15 SHAPE_OF_DELETED  a deleted segment tag of this name issued IDs under another
                        shape or region count (the caller reads the tombstone to say
                        which); nothing written
    an error reply      a malformed argument (a caller's bug), or no run_id in INFO
                        server; nothing written
]]
local rcall = redis.call
-- @include decimal
-- @include tag

local key = KEYS[1]
local mode, step, start, max, gap = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

-- Malformed settings would leave a tag every other script refuses as damaged.
if (mode ~= 'segment' and mode ~= 'snowflake') or not small_valid(step, 1)
    or not dec_valid(start) or not dec_valid(max) or not small_valid(gap, 0)
    or type(ARGV[6]) ~= 'string' or not string.match(ARGV[7] or '', '^%d+$') then
  return bad_argument('create-1', 'expected mode, step, start, max, gap, description, created_at')
end

local shape = {shape = ARGV[8] or 'plain', prefix = ARGV[9] or '', width = ARGV[10] or '',
  key = ARGV[11] or '', regions = ARGV[12] or '1'}
for field, check in pairs(SHAPE_FORM) do
  if not check(shape[field]) then
    return bad_argument('create-1', "shape field '" .. field .. "' is not allowed")
  end
end
if mode == 'snowflake' and shape_signature(shape) ~= 'plain||||1' then
  return bad_argument('create-1', 'a snowflake tag has no shape or regions')
end

if read_tag(key) then return -6 end
local run_id = server_run_id()
if not run_id then return no_run_id('create-1') end

-- A tombstone remembers how far a deleted tag got: a tag created again under its name
-- must never hand out those IDs a second time. Written last by another server (the
-- tombstone survived a failover or restart), that floor first skips the old gap.
local tomb = rcall('HMGET', key, 'next', 'run_id', 'gap', unpack(NUMBER_FIELDS))
local floor = tomb[1]
local floor_shape = {}
for i, field in ipairs(NUMBER_FIELDS) do floor_shape[field] = tomb[3 + i] or nil end
if not dec_valid(floor) then
  floor = nil
elseif tomb[2] ~= run_id and small_valid(tomb[3], 0) then
  floor = dec_add(floor, tonumber(tomb[3]))
end
if floor and mode == 'segment' and number_signature(floor_shape) ~= number_signature(shape) then
  return -15
end

local fields = {'mode', mode, 'step', step, 'max', max, 'gap', gap,
  'description', ARGV[6], 'created_at', ARGV[7]}
local next_id, raised = '', '0'
if mode == 'segment' then
  next_id = start
  if floor and dec_cmp(floor, start) > 0 then
    next_id = floor
    raised = '1'
  end
  if dec_cmp(next_id, max) > 0 then return -7 end
  fields[#fields + 1], fields[#fields + 2] = 'next', next_id
  fields[#fields + 1], fields[#fields + 2] = 'first', next_id
elseif floor then
  next_id = floor
  fields[#fields + 1], fields[#fields + 2] = 'next', floor
  for _, field in ipairs(NUMBER_FIELDS) do
    local v = floor_shape[field]
    if v and v ~= '' then fields[#fields + 1], fields[#fields + 2] = field, v end
  end
end

rcall('DEL', key)
-- Record the current server's run_id, so a new tag starts without an incarnation jump.
fields[#fields + 1], fields[#fields + 2] = 'run_id', run_id
rcall('HSET', key, unpack(fields))
if mode == 'segment' then write_shape(key, shape) end
return {next_id, raised}
