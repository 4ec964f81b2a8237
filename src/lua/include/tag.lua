-- tag: reading a tag hash and the executing server's incarnation.

-- The executing server's run_id: new on every restart, different on every server, so
-- a change means this counter may have lost writes (restart, failover, restore).
local function server_run_id()
  return string.match(rcall('INFO', 'server'), 'run_id:(%x+)')
end

-- The tag's fields as a table, or nil when the hash is missing or only a tombstone.
local function read_tag(key)
  local flat = rcall('HGETALL', key)
  if #flat == 0 then return nil end
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  if t.deleted_at then return nil end
  return t
end

-- A caller's bug rather than a domain refusal (the stores check every value before a
-- script runs): an error reply, so nothing is written and the caller sees a failure.
local function bad_argument(script, message)
  return redis.error_reply('ERR idalloc script ' .. script .. ': ' .. message)
end

-- true when a segment tag's counter fields are all well-formed
local function segment_fields_valid(t)
  return dec_valid(t.next) and dec_valid(t.max) and small_valid(t.step, 1)
    and small_valid(t.gap, 0)
end
