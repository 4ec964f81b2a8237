--[[
  import-1: restore a tag or a tombstone from `tag export` (README "Recovery
  procedures"). One call per tag: it reads the hash, decides and writes in one step.

  KEYS[1]  the tag hash, {prefix}tag:{name}
  ARGV[1]  what the export holds: 'segment' or 'snowflake' (a live tag of that mode), or
           'tombstone' (a deleted segment tag)
  ARGV[2]  target: the lowest next (a segment tag's counter; a snowflake tag's or a
           tombstone's floor) the hash may hold afterwards — the exported next plus the
           gap, at most max + 1 — a decimal string; '' for a snowflake tag without a floor
  ARGV[3]  step, an integer from 1 to 2^52  (written only when the tag is created)
  ARGV[4]  max, a decimal ID                (likewise)
  ARGV[5]  gap, an integer from 0 to 2^52, or '' (a tombstone that kept none)
  ARGV[6]  description                      (written only when the tag is created)
  ARGV[7]  created_at (tags) or deleted_at (tombstones), ms since the Unix epoch
  ARGV[8]  '1': a dry run, decide and write nothing; '0': write
  ARGV[9..13]  shape, prefix, width, key ('' when the shape has none) and regions: of a
           segment tag (written only when the tag is created, without `first`: an
           imported tag's shape is fixed), or of the deleted segment tag whose floor a
           tombstone or snowflake tag keeps (prefix ''); absent: plain, one region

  Nothing is ever lowered. What the hash holds decides:
    nothing       the record is written at target, with this server's run_id (as
                  create-1 does): created
    a live tag of the other mode (segment vs snowflake), or a segment tag of another
                  shape or region count (tag.lua's shape_signature): conflict, left alone
    a counter or floor whose numeric shape (tag.lua's number_signature) is not the
                  record's, both having one: conflict, left alone (one floor cannot
                  guard IDs issued under two bijections; create-1 refuses alike)
    a segment tag (also for a tombstone record: the tag was created again since) its
                  counter first skips its gap if another server wrote it last (as in
                  allocate-1), then rises to target (stopping at its own max + 1)
    a snowflake tag or a tombstone  its floor rises to target likewise (the floor of a
                  deleted tag is never turned back into a live tag: deleted since the
                  export stays deleted)

  Returns
    {outcome, found, before, after}
        outcome  'created', 'raised', 'unchanged' (already at or above target) or
                 'conflict'
        found    what the hash held: 'none', 'segment', 'snowflake', 'tombstone'
        before   the next stored before ('' when none); after, the next afterwards (or
                 that a dry run would leave; '' when none)
    -2  TAG_DAMAGED   a segment tag whose counter fields are not valid: left alone
    an error reply    a malformed argument (a caller's bug), or no run_id in INFO
                      server; nothing written
]]
local rcall = redis.call
-- @include decimal
-- @include tag

local key = KEYS[1]
local what, target, step, max, gap, text, at, dry =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local MAX_NEXT = '9223372036854775808'

local ok = (what == 'segment' or what == 'snowflake' or what == 'tombstone')
  and (dry == '0' or dry == '1') and type(text) == 'string'
  and string.match(at or '', '^%d+$') ~= nil
  and (gap == '' or small_valid(gap, 0))
  and (target == '' or (dec_valid(target) and dec_cmp(target, MAX_NEXT) <= 0))
if ok and what ~= 'snowflake' then ok = target ~= '' end
if ok and what == 'segment' then
  ok = small_valid(step, 1) and gap ~= '' and dec_valid(max)
    and dec_cmp(max, '9223372036854775807') <= 0 and dec_cmp(target, dec_add(max, 1)) <= 0
end
if not ok then
  return bad_argument('import-1',
    'expected what, target, step, max, gap, description, timestamp, dry run')
end

local shape = {shape = ARGV[9] or 'plain', prefix = ARGV[10] or '', width = ARGV[11] or '',
  key = ARGV[12] or '', regions = ARGV[13] or '1'}
for field, check in pairs(SHAPE_FORM) do
  if not check(shape[field]) then
    return bad_argument('import-1', "shape field '" .. field .. "' is not allowed")
  end
end

local run_id = server_run_id()
if not run_id then return no_run_id('import-1') end
local writing = dry == '0'

local flat = rcall('HGETALL', key)
if #flat == 0 then
  local fields
  if what == 'tombstone' then
    fields = {'next', target, 'deleted_at', at}
    if gap ~= '' then fields[#fields + 1], fields[#fields + 2] = 'gap', gap end
  else
    fields = {'mode', what, 'description', text, 'created_at', at}
    if what == 'segment' then
      fields[#fields + 1], fields[#fields + 2] = 'step', step
      fields[#fields + 1], fields[#fields + 2] = 'max', max
      fields[#fields + 1], fields[#fields + 2] = 'next', target
    elseif target ~= '' then
      fields[#fields + 1], fields[#fields + 2] = 'next', target
    end
    if gap ~= '' then fields[#fields + 1], fields[#fields + 2] = 'gap', gap end
  end
  -- This server's run_id: the gap is already in target, so no incarnation jump on top.
  fields[#fields + 1], fields[#fields + 2] = 'run_id', run_id
  if writing then
    rcall('HSET', key, unpack(fields))
    if what == 'segment' then write_shape(key, shape)
    elseif target ~= '' then write_number_shape(key, shape) end
  end
  return {'created', 'none', '', target}
end

local t = {}
for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
local found
if t.deleted_at then
  found = 'tombstone'
elseif t.mode == 'segment' or t.mode == 'snowflake' then
  found = t.mode
else
  return -2
end
local before = t.next or ''

if found ~= 'tombstone' and what ~= 'tombstone' and found ~= what then
  return {'conflict', found, before, before}
end
-- A shape never changes silently: another shape over the same counter could repeat IDs.
if found == 'segment' and what == 'segment' and shape_signature(t) ~= shape_signature(shape) then
  return {'conflict', found, before, before}
end

-- Likewise across a delete: a floor keeps the numbers of the shape it was issued under.
local counted = what ~= 'snowflake' or target ~= ''
if counted and dec_valid(t.next) and number_signature(t) ~= number_signature(shape) then
  return {'conflict', found, before, before}
end

local after
if found == 'segment' then
  if not segment_fields_valid(t) then return -2 end
  -- As allocate-1 would first: a counter another server wrote last skips its gap.
  after = t.next
  if t.run_id ~= run_id then
    after = dec_add(t.next, tonumber(t.gap))
    local room = dec_add(t.max, 1)
    if dec_cmp(after, room) > 0 then after = dec_max(t.next, room) end
  end
  local goal = target
  if dec_cmp(goal, dec_add(t.max, 1)) > 0 then goal = dec_max(t.next, dec_add(t.max, 1)) end
  after = dec_max(after, goal)
else
  -- A floor (tombstone or snowflake tag): as create-1 reads it, another server's skips
  -- the gap the hash kept.
  local floor = nil
  if dec_valid(t.next) then
    floor = t.next
    if t.run_id ~= run_id and small_valid(t.gap, 0) then floor = dec_add(floor, tonumber(t.gap)) end
  end
  if target == '' then
    after = floor
  elseif floor then
    after = dec_max(floor, target)
  else
    after = target
  end
  if after == nil then return {'unchanged', found, before, ''} end
end

if after == before then return {'unchanged', found, before, after} end
if writing then
  rcall('HSET', key, 'next', after, 'run_id', run_id)
  -- A floor where none was (a snowflake tag without one): with the record's shape.
  if not dec_valid(t.next) then write_number_shape(key, shape) end
end
return {'raised', found, before, after}
