--[[
  worker-export-2: read a snowflake worker ID for `tag export` (docs/design.md §6,
  "Moving between stores"): the lease and the horizon at one moment. Read only.

  KEYS[1]  the lease, {prefix}worker:{id}
  KEYS[2]  the horizon, {prefix}worker:{id}:horizon
  ARGV[1]  now: the caller's clock, Unix ms
  ARGV[2]  margin, ms: as worker-claim-2 adds to a horizon this server did not confirm
  ARGV[3]  the token of an imported hold

  Returns
    {horizon, holder, imported}
        horizon: the highest timestamp a holder may have used, as a claim sees it (the
        first timestamp worker-claim-2 would give, minus one); holder: the first 16 hex
        digits of the SHA-1 of the lease's token ('' when the lease is free); imported
        '1' when the lease is an imported hold, else '0'
    {}   neither key exists (gone since the scan)
    -11  WORKER_DAMAGED  the horizon hash is not what these scripts write
]]
local rcall = redis.call
-- @include tag
-- @include worker

local now, margin, imported = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
if not now or now < 0 or not margin or margin < 0 or not imported or imported == '' then
  return bad_argument('worker-export', 'expected now, margin, imported token')
end

local token = rcall('GET', KEYS[1])
local ok, h, stored_run_id = read_horizon(KEYS[2])
if not ok then return -11 end
if not token and not h then return {} end
local floor = worker_floor(h, stored_run_id, server_run_id(), now, margin)
local holder = ''
if token then holder = string.sub(redis.sha1hex(token), 1, 16) end
return {ms(floor - 1), holder, token == imported and '1' or '0'}
