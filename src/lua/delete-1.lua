--[[
  delete-1: delete a tag, leaving a tombstone (docs/design.md §3 `tag delete`).

  KEYS[1]  the tag hash, {prefix}tag:{name}
  ARGV[1]  deleted_at: milliseconds since the Unix epoch

  The tombstone keeps the counter's next, so that a tag created again under the same
  name starts above every ID the deleted one issued, and the numbers under its shape
  (tag.lua's NUMBER_FIELDS: shape, width, key, regions), so that create-1 refuses one of
  another shape, whose new counter values could map onto those IDs. A snowflake tag
  leaves one only when its hash carries the floor of an earlier segment tag, with that
  tag's shape fields (see create-1).

  Returns
    1   deleted
    -1  TAG_NOT_FOUND  no such tag (or already deleted)
]]
local rcall = redis.call
-- @include decimal
-- @include tag

local key = KEYS[1]
local t = read_tag(key)
if not t then return -1 end

rcall('DEL', key)
if dec_valid(t.next) then
  -- The tombstone keeps who wrote the counter last and its gap: a tag created again on
  -- another server (after a failover) must still skip the gap above it.
  local tomb = {'next', t.next, 'deleted_at', ARGV[1]}
  if t.run_id then tomb[#tomb + 1], tomb[#tomb + 2] = 'run_id', t.run_id end
  if small_valid(t.gap, 0) then tomb[#tomb + 1], tomb[#tomb + 2] = 'gap', t.gap end
  -- Absent ones stay absent (plain, one region), as write_shape leaves a plain tag.
  for _, field in ipairs(NUMBER_FIELDS) do
    if t[field] and t[field] ~= '' then tomb[#tomb + 1], tomb[#tomb + 2] = field, t[field] end
  end
  rcall('HSET', key, unpack(tomb))
end
return 1
