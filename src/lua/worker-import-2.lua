--[[
  worker-import-2: bring a snowflake worker ID of `tag export` into this store
  (docs/design.md §6, "Moving between stores"). One call per worker ID: it reads,
  decides and writes in one step.

  KEYS[1]  the lease, {prefix}worker:{id}
  KEYS[2]  the horizon, {prefix}worker:{id}:horizon
  ARGV[1]  horizon: the export's, Unix ms (a holder on the exported store may have used
           timestamps up to it)
  ARGV[2]  holder: the exported lease's fingerprint (16 hex digits), '' when it was free
  ARGV[3]  now: the importer's clock, Unix ms
  ARGV[4]  hold, ms: how long an imported hold lasts unless released
  ARGV[5]  margin, ms: as worker-claim-2 adds to a horizon this server did not confirm
  ARGV[6]  the token of an imported hold
  ARGV[7]  '1': a dry run, decide and write nothing; '0': write

  Free at the export: the horizon rises to the export's (h only: its run_id stays, so a
  claim still adds the margin when this server did not confirm it). Held at the export:
  by the same holder here (an import onto the store it came from): kept; by another
  node here whose floor lies above the export's horizon (it claimed after the export,
  e.g. once a restarted empty server lost the old lease, fenced past every timestamp
  the exported holder may have used): kept; by another node below it: conflict,
  nothing written; else the lease is taken under the imported
  token for the hold, h goes to the hold's end and floor above every timestamp the
  exported holder and this store's earlier holders may have used, so that a release
  (worker-release-2, same run_id) settles it no lower.

  Returns
    {outcome, horizon}  outcome 'held', 'kept', 'raised', 'unchanged' or 'conflict';
                        horizon, the one afterwards (or that a dry run would leave)
    -11  WORKER_DAMAGED  the horizon hash is not what these scripts write; nothing written
]]
local rcall = redis.call
-- @include tag
-- @include worker

local exported, holder, now = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local hold, margin, imported, dry = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
if not exported or exported < 0 or not now or now < 0 or not hold or hold < 1
  or not margin or margin < 0 or not imported or imported == ''
  or (dry ~= '0' and dry ~= '1') or not string.match(holder or 'x', '^%x*$') then
  return bad_argument('worker-import',
    'expected horizon, holder, now, hold ms, margin, imported token, dry run')
end
local writing = dry == '0'

local token = rcall('GET', KEYS[1])
local ok, h, stored_run_id, floor = read_horizon(KEYS[2])
if not ok then return -11 end

if holder == '' then
  if token and token ~= imported and (h or -1) < exported then
    return {'conflict', ms(h or 0)}
  end
  if h and h >= exported then return {'unchanged', ms(h)} end
  if writing then rcall('HSET', KEYS[2], 'h', ms(exported)) end
  return {'raised', ms(exported)}
end

if token and token ~= imported then
  if string.sub(redis.sha1hex(token), 1, 16) == holder then
    return {'kept', ms(math.max(h or 0, exported))}
  end
  -- Another holder is safe only when its first timestamp lies above the exported ones.
  if floor and floor > exported then return {'kept', ms(h or floor)} end
  return {'conflict', ms(h or 0)}
end

local run_id = server_run_id()
local base = exported
if token == imported and floor and h and stored_run_id == run_id then
  base = math.max(base, floor - 1) -- a re-import keeps the earlier hold's floor
else
  base = math.max(base, worker_floor(h, stored_run_id, run_id, now, margin) - 1)
end
local horizon = math.max(base, now + hold)
if writing then
  rcall('SET', KEYS[1], imported, 'PX', hold)
  rcall('HSET', KEYS[2], 'h', ms(horizon), 'run_id', run_id, 'floor', ms(base + 1))
end
return {'held', ms(horizon)}
