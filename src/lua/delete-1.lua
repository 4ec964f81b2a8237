--[[
  delete-1: delete a tag, leaving a tombstone (SPEC §3 `tag delete`).

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
  rcall('HSET', key, 'next', t.next, 'deleted_at', ARGV[1])
end
return 1
