--[[
  worker-release-2: give a snowflake worker ID back on shutdown (docs/design.md §6).
  Compare-and-delete: nothing changes unless the token matches.

  KEYS[1]  the lease, {prefix}worker:{id}
  KEYS[2]  the horizon, {prefix}worker:{id}:horizon
  ARGV[1]  token: the holder's token from worker-claim-2
  ARGV[2]  settle, Unix ms: the highest timestamp the holder used (it has stopped)

  The holder's unused headroom is given back: h becomes max(settle, floor - 1), which
  still covers every timestamp this holder and all earlier ones used (floor is above
  them), so the next holder starts right after it instead of waiting out the headroom.
  That is the one place h may go down, and only when this server confirmed h (same
  run_id); otherwise h only rises and keeps its run_id, so the next holder still adds
  the margin.

  Returns
     1   released
    -8   NOT_HOLDER      the lease expired or holds another token; nothing written
    -11  WORKER_DAMAGED  the horizon hash is not what these scripts write; nothing written
]]
local rcall = redis.call
-- @include tag
-- @include worker

local token, settle = ARGV[1], tonumber(ARGV[2])
if token == '' or not settle or settle < 0 then
  return bad_argument('worker-release', 'expected token and settle ms')
end

-- Compare: only the holder releases.
if rcall('GET', KEYS[1]) ~= token then return -8 end

local ok, h, stored_run_id, floor = read_horizon(KEYS[2])
if not ok then return -11 end

-- Settle the horizon at what was used, never below what earlier holders could use.
if floor and floor - 1 > settle then settle = floor - 1 end
if h and stored_run_id == server_run_id() and floor then
  rcall('HSET', KEYS[2], 'h', ms(settle))
elseif h == nil or settle > h then
  rcall('HSET', KEYS[2], 'h', ms(settle))
end

-- Delete: the worker ID is free again.
rcall('DEL', KEYS[1])
return 1
