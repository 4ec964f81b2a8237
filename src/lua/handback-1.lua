--[[
  handback-1: give the unused tail of a node's last grant back to a segment tag's counter,
  when nothing was granted after it (docs/design.md §5 "Hand-back", §8.1).

  KEYS[1]  the tag hash, {prefix}tag:{name}
  ARGV[1]  from: the first ID handed back, a decimal string (the first one never served)
  ARGV[2]  end: the last ID of the caller's last grant, a decimal string; next must be
           exactly end + 1, i.e. nothing was granted after it
  ARGV[3]  incarnation: the run_id the caller's last grant came from

  Returns
    {'returned', old_next, new_next}  next lowered from end + 1 to from
    {'moved', next}                   next is not end + 1: something was granted after the
                                      caller's grant (or the counter was bumped, imported)
    {'incarnation', run_id}           the executing server, or the server that last wrote
                                      the tag, is not the one the grant came from (restart,
                                      failover, restore): its counter cannot be trusted to
                                      know the grant, so nothing is lowered
    -1  TAG_NOT_FOUND  no such tag (a deleted tag's tombstone is never lowered)
    -2  TAG_DAMAGED
    -3  WRONG_MODE     not a segment tag
    an error reply     from, end or incarnation malformed, from above end (a caller's
                       bug), or no run_id in INFO server; nothing written

  Only ever lowers next to IDs the caller itself was granted last and never served; never
  applies the incarnation guard (that would raise next, and the caller stops anyway).
]]
local rcall = redis.call
-- @include decimal
-- @include tag
-- @include handback

return hand_back('handback-1', KEYS[1], ARGV[1], ARGV[2], ARGV[3])
