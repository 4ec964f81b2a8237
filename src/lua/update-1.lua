--[[
  update-1: change a tag's settings (docs/design.md §3 `tag update`).

  KEYS[1]  the tag hash, {prefix}tag:{name}
  ARGV     field, value pairs, each field one of step (1..2^52), max (a decimal ID),
           gap (0..2^52), description; shape, prefix, width, key, regions (segment tags,
           all five together, '' for a field the shape has not: deleted); and two that
           are checked, never written: expect, the shape signature (tag.lua's
           shape_signature) the caller read the tag with, and limit, the largest max the
           tag may have with the shape it has afterwards (core/shape.ts counterLimit)

  Returns
    1   updated
    -1  TAG_NOT_FOUND
    -2  TAG_DAMAGED     max asked of a segment tag whose next is not valid (nothing to
                        compare it with)
    -3  WRONG_MODE      step, max or gap asked of a snowflake tag
    -7  MAX_BELOW_NEXT  max below IDs already issued (max must be at least next - 1)
    -14 SHAPE_FIXED     a different shape or region count asked of a tag whose next has
                        left its first (it issued IDs), or that has no first (created
                        before shapes, or imported)
    an error reply      no pairs, an unknown field or a malformed value (a caller's bug),
                        the shape changed since the caller read it (expect), max above
                        limit (the caller checks first: only a concurrent update gets
                        here), or no run_id in INFO server; nothing written

  A segment counter another server wrote last first skips its gap (as in allocate-1),
  with the gap it had, before max is checked.
]]
local rcall = redis.call
-- @include decimal
-- @include tag

local key = KEYS[1]

-- Only these fields, each well-formed: anything else (next, run_id, mode) is not
-- changed by an update, and a malformed value would damage the tag.
local form = {
  step = function(v) return small_valid(v, 1) end,
  gap = function(v) return small_valid(v, 0) end,
  max = dec_valid,
  description = function(v) return type(v) == 'string' end,
  expect = function(v) return type(v) == 'string' end,
  limit = dec_valid,
}
for field, check in pairs(SHAPE_FORM) do form[field] = check end
if #ARGV == 0 or #ARGV % 2 ~= 0 then
  return bad_argument('update-1', 'expected field, value pairs')
end
for i = 1, #ARGV, 2 do
  local check = form[ARGV[i]]
  if not check or not check(ARGV[i + 1]) then
    return bad_argument('update-1', "field '" .. ARGV[i] .. "' or its value is not allowed")
  end
end

local t = read_tag(key)
if not t then return -1 end

-- A segment counter another server wrote last first skips its gap (with the gap it had),
-- so a new max is checked against where the counter really stands, and a lowered gap
-- cannot shrink a jump still owed.
if t.mode == 'segment' and segment_fields_valid(t) then
  local run_id = server_run_id()
  if not run_id then return no_run_id('update-1') end
  apply_incarnation(key, t, run_id)
end

local plain, shape, control = {}, {}, {}
for i = 1, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if field ~= 'description' and t.mode ~= 'segment' then return -3 end
  if SHAPE_FORM[field] then shape[field] = value
  elseif field == 'expect' or field == 'limit' then control[field] = value
  else plain[#plain + 1], plain[#plain + 2] = field, value end
  -- A max below what was handed out would not take those IDs back: refuse it.
  if field == 'max' then
    if not dec_valid(t.next) then return -2 end
    if dec_cmp(dec_add(value, 1), t.next) < 0 then return -7 end
  end
end

if control.expect and control.expect ~= shape_signature(t) then
  return bad_argument('update-1', 'the tag\'s shape changed since it was read; try again')
end
if next(shape) ~= nil then
  if not (shape.shape and shape.prefix and shape.width and shape.key and shape.regions) then
    return bad_argument('update-1', 'shape, prefix, width, key and regions come together')
  end
  -- A shape that changes after the first ID could map new counter values onto IDs
  -- already issued: only while next is still where the tag started.
  if shape_signature(shape) ~= shape_signature(t)
      and (not dec_valid(t.first) or t.next ~= t.first) then
    return -14
  end
end
local new_max = t.max
for i = 1, #plain, 2 do if plain[i] == 'max' then new_max = plain[i + 1] end end
if control.limit and dec_valid(new_max) and dec_cmp(new_max, control.limit) > 0 then
  return bad_argument('update-1', 'max ' .. new_max .. ' is above the limit ' .. control.limit)
end

if #plain > 0 then rcall('HSET', key, unpack(plain)) end
if next(shape) ~= nil then write_shape(key, shape) end
return 1
