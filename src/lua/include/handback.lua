-- handback: the compare-and-set of a hand-back, shared by handback-1 and
-- handback-keyed-2 (which also deletes the Idempotency-Key record of the grant).
-- Needs the decimal and tag includes first.

-- Lowers the tag hash `key`'s next from end + 1 to `from` when nothing was granted
-- after the caller's grant and both the running server and the tag's last writer are
-- `incarnation`. Returns the reply of handback-1: {'returned', old_next, new_next},
-- {'moved', next}, {'incarnation', run_id}, a negative code (-1, -2, -3) or an error
-- reply; only 'returned' wrote anything.
local function hand_back(script, key, from, last, incarnation)
  if not dec_valid(from) or not dec_valid(last) or dec_cmp(from, last) > 0 then
    return bad_argument(script, "from '" .. tostring(from) .. "' and end '" ..
      tostring(last) .. "' are not decimal IDs with from <= end")
  end
  if type(incarnation) ~= 'string' or not string.match(incarnation, '^%x+$') then
    return bad_argument(script, "incarnation '" .. tostring(incarnation) .. "' is not a run_id")
  end

  -- Fail closed: a missing, deleted or damaged tag is never written.
  local t, refused = read_segment_tag(key)
  if not t then return refused end

  -- The grant's server must be the one running now and the one that wrote the tag last.
  local run_id = server_run_id()
  if not run_id then return no_run_id(script) end
  if run_id ~= incarnation or t.run_id ~= incarnation then return {'incarnation', run_id} end

  -- Nothing granted after the caller's grant: the counter stands right after it.
  local expected = dec_add(last, 1)
  if t.next ~= expected then return {'moved', t.next} end

  rcall('HSET', key, 'next', from)
  return {'returned', expected, from}
end
