--[[
  worker-claim-2: lease a free snowflake worker ID and fence it (docs/design.md §6).

  KEYS[1]  the lease, {prefix}worker:{id} (a string holding the holder's token; expires)
  KEYS[2]  the horizon, {prefix}worker:{id}:horizon (a hash h, run_id, floor; never expires;
           a field moved once `tag export --move` marked the store moved)
  ARGV[1]  token: the claimant's random token, which renew and release must present
  ARGV[2]  lease length, ms
  ARGV[3]  now: the claimant's clock, Unix ms
  ARGV[4]  ahead, ms: the new horizon is at least now + ahead
  ARGV[5]  margin, ms: added when the horizon is missing or was confirmed by another
           server (its last raises may be lost)
  ARGV[6]  max wait, ms: refuse when the first usable timestamp lies more than this
           after now

  Returns
    {floor, horizon, margin, run_id}
        floor: the first timestamp (Unix ms) the new holder may use, strictly above every
        timestamp an earlier holder could use; horizon: the highest it may use until it
        renews; margin '1' when the incarnation margin was added, else '0'; run_id the
        executing server's ('' when INFO shows none), for the grant log
    -10  WORKER_TAKEN    the lease is held (by anyone, this caller included)
    -9   HORIZON_BEHIND  the floor lies more than max wait after now; nothing written
    -11  WORKER_DAMAGED  the horizon hash is not what these scripts write; nothing written
    -12  WORKER_MOVED    the store was moved (`tag export --move`): no new lease; nothing
                         written
]]
local rcall = redis.call
-- @include tag
-- @include worker

local token = ARGV[1]
local lease_ms, now = tonumber(ARGV[2]), tonumber(ARGV[3])
local ahead, margin, max_wait = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if token == '' or not lease_ms or lease_ms < 1 or not now or now < 0 or not ahead
  or ahead < 0 or not margin or margin < 0 or not max_wait then
  return bad_argument('worker-claim', 'expected token, lease ms, now, ahead, margin, max wait')
end

-- The store was moved to another: a worker ID free here may be in use there.
if rcall('HEXISTS', KEYS[2], 'moved') == 1 then return -12 end

-- Someone holds it: a lease is never taken over before it expires.
if rcall('EXISTS', KEYS[1]) == 1 then return -10 end

-- Start strictly above every timestamp an earlier holder may have used.
local ok, h, stored_run_id = read_horizon(KEYS[2])
if not ok then return -11 end
local run_id = server_run_id()
local floor, margined = worker_floor(h, stored_run_id, run_id, now, margin)
if floor > now + max_wait then return -9 end

-- Take the lease, then fence: the horizon only rises here (floor is above h).
local horizon = math.max(floor, now + ahead)
rcall('SET', KEYS[1], token, 'PX', lease_ms)
rcall('HSET', KEYS[2], 'h', ms(horizon), 'run_id', run_id, 'floor', ms(floor))
return {ms(floor), ms(horizon), margined and '1' or '0', run_id or ''}
