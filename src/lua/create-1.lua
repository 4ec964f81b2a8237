--[[
  create-1: create a tag (SPEC §3 `tag create`, §8.1).

  KEYS[1]  the tag hash, {prefix}tag:{name}
  ARGV[1]  mode: 'segment' or 'snowflake'
  ARGV[2]  step: an integer from 1 to 2^52
  ARGV[3]  start: the first ID, a decimal string
  ARGV[4]  max: the last ID that may be issued, a decimal string above start
  ARGV[5]  gap: the incarnation safety gap, an integer from 0 to 2^52
  ARGV[6]  description (may be empty)
  ARGV[7]  created_at: milliseconds since the Unix epoch

  Returns
    {next, raised}  the tag's first ID; raised '1' when a deleted tag of the same name
                    had issued IDs at or above start, so next starts above them instead
    -6  TAG_EXISTS      a live tag has this name
    -7  MAX_BELOW_NEXT  the deleted tag's IDs already reach max
]]
local rcall = redis.call
-- @include decimal
-- @include tag

local key = KEYS[1]
local mode, step, start, max, gap = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

if read_tag(key) then return -6 end

-- A tombstone remembers how far a deleted tag got: a tag created again under its name
-- must never hand out those IDs a second time.
local next_id = start
local raised = '0'
local old_next = rcall('HGET', key, 'next')
if dec_valid(old_next) and dec_cmp(old_next, next_id) > 0 then
  next_id = old_next
  raised = '1'
end
if mode == 'segment' and dec_cmp(next_id, max) > 0 then return -7 end

rcall('DEL', key)
-- Record the current server's run_id, so a new tag starts without an incarnation jump.
rcall('HSET', key,
  'mode', mode, 'next', next_id, 'step', step, 'max', max, 'gap', gap,
  'run_id', server_run_id(), 'description', ARGV[6], 'created_at', ARGV[7])
return {next_id, raised}
