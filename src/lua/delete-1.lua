--[[
  delete-1: delete a tag, leaving a tombstone (docs/design.md §3 `tag delete`).

  KEYS[1]  the tag hash, {prefix}tag:{name}
  ARGV[1]  deleted_at: milliseconds since the Unix epoch

  The tombstone keeps the counter's next, so that a tag created again under the same
  name starts above every ID the deleted one issued. A snowflake tag leaves one only when
  its hash carries the floor of an earlier segment tag (see create-1).

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
  rcall('HSET', key, unpack(tomb))
end
return 1
