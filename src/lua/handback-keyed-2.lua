--[[
  handback-keyed-2: handback-1 for a range granted under an Idempotency-Key (a client's
  keyed lease, returned through the service): the same compare-and-set, and when it is
  taken, the key's record is deleted in the same step (docs/design.md §5 "Hand-back",
  "Idempotency keys"). Left, a replay of the key would serve the returned IDs again,
  after the counter grants them to someone else.

  KEYS[1]  the tag hash, {prefix}tag:{name}
  KEYS[2]  the key's record, {<KEYS[1]>}:idem:<hex> (keys.ts: in KEYS[1]'s Cluster slot)
  ARGV[1]  from, ARGV[2] end, ARGV[3] incarnation: as handback-1

  Returns what handback-1 returns. Only {'returned', …} writes: next lowered and the
  record deleted (a record already expired is no matter: nothing can replay it). The
  record is deleted whoever wrote it: next standing at end + 1 means nothing was granted
  after the lease, so no later grant under the same key exists to lose its record.
]]
local rcall = redis.call
-- @include decimal
-- @include tag
-- @include handback

local reply = hand_back('handback-keyed-2', KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if type(reply) == 'table' and reply[1] == 'returned' then rcall('DEL', KEYS[2]) end
return reply
