-- tag: reading a tag hash and the executing server's incarnation.

-- The executing server's run_id: new on every restart, different on every server, so
-- a change means this counter may have lost writes (restart, failover, restore).
-- nil when INFO shows none (a Redis look-alike): callers refuse rather than skip the
-- guard (see no_run_id).
local function server_run_id()
  return string.match(rcall('INFO', 'server'), 'run_id:(%x+)')
end

-- The error reply for a server whose run_id cannot be read: without it the incarnation
-- guard cannot work, so nothing is allocated or written.
local function no_run_id(script)
  return redis.error_reply('ERR idalloc script ' .. script ..
    ': INFO server shows no run_id, so the incarnation guard cannot run; refusing')
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

-- true when a segment tag's counter fields are all well-formed: max at most 2^63 - 1,
-- next at most 2^63 (max + 1: exhausted)
local function segment_fields_valid(t)
  return dec_valid(t.next) and dec_valid(t.max) and small_valid(t.step, 1)
    and small_valid(t.gap, 0)
    and dec_cmp(t.max, '9223372036854775807') <= 0
    and dec_cmp(t.next, '9223372036854775808') <= 0
end

-- A segment tag fit to grant from, or the code refusing it (fail closed: never a damaged
-- tag): -1 TAG_NOT_FOUND (none, or a tombstone), -3 WRONG_MODE (snowflake), -2 TAG_DAMAGED.
local function read_segment_tag(key)
  local t = read_tag(key)
  if not t then return nil, -1 end
  if t.mode == 'snowflake' then return nil, -3 end
  if t.mode ~= 'segment' or not segment_fields_valid(t) then return nil, -2 end
  return t
end

-- Incarnation guard (docs/design.md §8.1): a segment tag last written by another server — a
-- restart, a promoted replica, a restore, or a hash with no run_id at all — may lack
-- that server's latest grants. So before anything reads or changes its counter, next
-- skips the tag's safety gap (stopping at max + 1: exhausted, never overflowed) and the
-- tag records this server. Updates t in place; returns '1' when it moved next.
local function apply_incarnation(key, t, run_id)
  if t.run_id == run_id then return '0' end
  local next_id = dec_add(t.next, tonumber(t.gap))
  local max_plus_one = dec_add(t.max, 1)
  if dec_cmp(next_id, max_plus_one) > 0 then next_id = dec_max(t.next, max_plus_one) end
  rcall('HSET', key, 'run_id', run_id, 'next', next_id)
  t.next, t.run_id = next_id, run_id
  return '1'
end

-- A segment tag's shape and region count as one string (store/shape-fields.ts builds
-- the same with shapeSignature): missing fields are plain, one region.
local function shape_signature(t)
  return (t.shape or 'plain') .. '|' .. (t.prefix or '') .. '|' .. (t.width or '') .. '|'
    .. (t.key or '') .. '|' .. (t.regions or '1')
end

-- The numbers a counter value becomes under a shape and region count: kind, width, key
-- and regions (the prefix only writes that number another way), missing or '' fields
-- being plain, no width, no key, one region. A tombstone keeps these fields (delete-1),
-- so a tag created again under its name with other ones could map its new counter
-- values onto IDs the deleted tag issued (store/shape-fields.ts numberSignature).
local NUMBER_FIELDS = {'shape', 'width', 'key', 'regions'}
local function number_signature(t)
  local function v(x, d) if x == nil or x == '' then return d end return x end
  return v(t.shape, 'plain') .. '|' .. v(t.width, '') .. '|' .. v(t.key, '') .. '|'
    .. v(t.regions, '1')
end

-- The shape fields of create-1, update-1 and import-1, each well-formed or '' (absent):
-- kind, prefix, width, key, regions. The stores check them fully before a script runs;
-- this keeps a caller's bug from leaving a tag no reader can use.
local SHAPE_FORM = {
  shape = function(v) return v == 'plain' or v == 'bitreverse' or v == 'permute' end,
  prefix = function(v) return v == '' or string.match(v, '^[a-z][a-z0-9]*$') ~= nil and #v <= 16 end,
  width = function(v)
    return v == '' or (string.match(v, '^%d%d$') ~= nil and tonumber(v) >= 16 and tonumber(v) <= 63)
  end,
  key = function(v) return v == '' or (#v == 32 and string.match(v, '^[0-9a-f]+$') ~= nil) end,
  regions = function(v)
    return string.match(v, '^[1-9]%d?%d?%d?$') ~= nil and tonumber(v) <= 1024
  end,
}

-- HSET the shape fields of `values` (name -> value) and HDEL the empty ones and the
-- defaults (plain, one region): a plain tag's hash stays as it was before shapes.
local function write_shape(key, values)
  local set, del = {}, {}
  for _, field in ipairs({'shape', 'prefix', 'width', 'key', 'regions'}) do
    local v = values[field]
    if v ~= nil then
      if v == '' or (field == 'shape' and v == 'plain') or (field == 'regions' and v == '1') then
        del[#del + 1] = field
      else set[#set + 1], set[#set + 2] = field, v end
    end
  end
  if #set > 0 then rcall('HSET', key, unpack(set)) end
  if #del > 0 then rcall('HDEL', key, unpack(del)) end
end

-- The numeric shape fields alone (a floor's: a tombstone or a snowflake tag keeping one),
-- as write_shape writes them.
local function write_number_shape(key, values)
  write_shape(key, {shape = values.shape, width = values.width, key = values.key,
    regions = values.regions})
end
