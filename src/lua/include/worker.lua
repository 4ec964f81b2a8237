-- worker: a snowflake worker ID's lease and horizon (docs/design.md §6).
-- The lease is a string holding its holder's token, with a TTL. The horizon is a hash
-- that never expires: h, the highest timestamp (Unix ms) any holder of the worker ID may
-- use; run_id, the server that last confirmed h; floor, the current holder's first
-- timestamp (a release never settles h below floor - 1). Timestamps stay below 2^53, so
-- Lua's doubles hold them exactly.

-- ok, h, run_id, floor of a horizon hash: ok false when it is damaged; h nil when missing
local function read_horizon(key)
  local f = rcall('HMGET', key, 'h', 'run_id', 'floor')
  local h, run_id, floor = f[1], f[2], f[3]
  if not h then
    if run_id or floor then return false end
    return true, nil, nil, nil
  end
  if not string.match(h, '^%d+$') or #h > 15 then return false end
  if floor and (not string.match(floor, '^%d+$') or #floor > 15) then return false end
  return true, tonumber(h), run_id or nil, floor and tonumber(floor) or nil
end

-- The first timestamp a new holder may use, and whether the incarnation margin was added.
-- Same server as the one that confirmed h: strictly above h. Otherwise (a restart, a
-- promoted replica, or no horizon at all, which a wiped store also looks like) h may
-- lack the last raises, which went at most one lease ahead of a holder's clock: start
-- above both h and now by the margin.
local function worker_floor(h, stored_run_id, run_id, now, margin)
  if h and stored_run_id == run_id then return h + 1, false end
  local base = now
  if h and h + 1 > base then base = h + 1 end
  return base + margin, true
end

-- a timestamp as a decimal string (never in exponent form)
local function ms(x)
  return string.format('%.0f', x)
end
