-- allocate: the grant of a segment tag's next IDs, shared by allocate-1 and
-- allocate-keyed-2 (which records the grant under an Idempotency-Key beside it).
-- Needs the decimal and tag includes first.

-- Grants `count` IDs (0: the tag's step) of the tag hash `key` to a node of
-- `node_regions` regions; `exact`: all of count or nothing. Returns the 12-field reply
-- of allocate-1 ({start, end, step, max, bumped, run_id, skipped, shape, prefix,
-- width, key, regions}), a negative code (-1, -2, -3, -4, -13), or an error reply.
local function grant_segment(script, key, count, exact, node_regions)
  -- Fail closed: allocation never creates a tag, and never trusts a damaged one.
  local t, refused = read_segment_tag(key)
  if not t then return refused end
  if count == 0 then count = tonumber(t.step) end
  -- Before anything moves: a node of another region count would issue IDs of another
  -- region's residues (c·N + i with the wrong N).
  if (t.regions or '1') ~= node_regions then return -13 end

  -- Incarnation guard: skip the safety gap first if another server wrote last.
  local run_id = server_run_id()
  if not run_id then return no_run_id(script) end
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
end
