--[[
  worker-renew-2: extend a snowflake worker lease this holder still has, and raise its
  horizon (docs/design.md §6). Compare-and-expire: nothing changes unless the token matches.

  KEYS[1]  the lease, {prefix}worker:{id}
  KEYS[2]  the horizon, {prefix}worker:{id}:horizon
  ARGV[1]  token: the holder's token from worker-claim-2
  ARGV[2]  lease length, ms
  ARGV[3]  now: the holder's clock, Unix ms
  ARGV[4]  target, Unix ms: raise the horizon to at least this (the holder's now + ahead)
  ARGV[5]  margin, ms: as in worker-claim-2, for a horizon this server did not confirm
  ARGV[6]  held floor, Unix ms: the first timestamp the holder uses now (its claim's floor,
           or the last re-fence it received)

  Returns
    {horizon, floor, run_id}
        horizon: the highest timestamp (Unix ms) the holder may use until it renews again;
        floor '0' when this server confirmed the horizon before (nothing was lost) and the
        holder already starts at the stored floor, else the first timestamp the holder may
        use from now on: the server changed (restart, failover) and may have lost raises,
        so the holder starts again above the margin; or an earlier renewal re-fenced here
        and its answer never reached the holder (its WAIT failed, the reply was lost), so
        the stored floor above the held one is handed over again;
        run_id the executing server's ('' when INFO shows none), for the grant log
    -8   NOT_HOLDER      the lease expired or holds another token; nothing written
    -11  WORKER_DAMAGED  the horizon hash is not what these scripts write; nothing written
]]
local rcall = redis.call
-- @include tag
-- @include worker

local token = ARGV[1]
local lease_ms, now = tonumber(ARGV[2]), tonumber(ARGV[3])
local target, margin = tonumber(ARGV[4]), tonumber(ARGV[5])
-- digits only: tonumber would also take 'nan' or 'inf', which compare false to any floor
local held_floor = string.match(ARGV[6] or '', '^%d+$') and tonumber(ARGV[6])
if token == '' or not lease_ms or lease_ms < 1 or not now or now < 0 or not target
  or target < 0 or not margin or margin < 0 or not held_floor then
  return bad_argument('worker-renew', 'expected token, lease ms, now, target, margin, held floor')
end

-- Compare: only the holder renews.
if rcall('GET', KEYS[1]) ~= token then return -8 end

local ok, h, stored_run_id, stored_floor = read_horizon(KEYS[2])
if not ok then return -11 end
local run_id = server_run_id()

-- Another server's horizon may lack raises (and a lost claim of another node may
-- have used timestamps above it): start again above the margin, as a claim would.
local floor_out, horizon = '0', target
if h == nil or stored_run_id ~= run_id then
  local floor = worker_floor(h, stored_run_id, run_id, now, margin)
  floor_out = ms(floor)
  horizon = math.max(horizon, floor)
  rcall('HSET', KEYS[2], 'floor', floor_out)
elseif stored_floor and stored_floor > held_floor then
  -- This holder was re-fenced here and never used the answer (a WAIT that failed, a
  -- reply lost with its connection): it must not mint below that floor.
  floor_out = ms(stored_floor)
  horizon = math.max(horizon, stored_floor)
end

-- Expire, then raise: the horizon never goes down here.
if h and h > horizon then horizon = h end
rcall('PEXPIRE', KEYS[1], lease_ms)
rcall('HSET', KEYS[2], 'h', ms(horizon), 'run_id', run_id)
return {ms(horizon), floor_out, run_id or ''}
