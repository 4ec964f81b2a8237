--[[
  worker-inspect-2: look at a snowflake worker ID without changing it, so that a node
  choosing a worker ID reads a window of them at once (docs/design.md §6). Read only.

  KEYS[1]  the lease, {prefix}worker:{id} (a string holding the holder's token; expires)
  KEYS[2]  the horizon, {prefix}worker:{id}:horizon (a hash h, run_id, floor; never expires)
  ARGV[1]  now: the caller's clock, Unix ms
  ARGV[2]  margin, ms: what worker-claim-2 adds when the horizon is missing or was
           confirmed by another server

  Returns
    {held, floor}  held '1' when the lease is taken (floor is then '0'), else '0' and
                   floor, the first timestamp a claim would get now (Unix ms)
    -11  WORKER_DAMAGED  the horizon hash is not what these scripts write
]]
local rcall = redis.call
-- @include tag
-- @include worker

local now, margin = tonumber(ARGV[1]), tonumber(ARGV[2])
if not now or now < 0 or not margin or margin < 0 then
  return bad_argument('worker-inspect', 'now and margin must be non-negative numbers')
end

-- A held lease is all a chooser needs to know.
if rcall('EXISTS', KEYS[1]) == 1 then return {'1', '0'} end

-- Free: where a claim would start. INFO only when there is a run_id to compare with.
local ok, h, stored_run_id = read_horizon(KEYS[2])
if not ok then return -11 end
local run_id = nil
if h then run_id = server_run_id() end
local floor = worker_floor(h, stored_run_id, run_id, now, margin)
return {'0', ms(floor)}
