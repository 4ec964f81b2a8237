-- decimal: exact arithmetic on IDs kept as decimal strings.
-- Redis hands integer replies to Lua as doubles, exact only below 2^53, while IDs go
-- up to 2^63. So IDs live as canonical decimal strings (no sign, no leading zeros, at
-- most 20 digits) and are split into a high part and 15 low digits, both of which a
-- double holds exactly. Small operands (steps, counts, gaps) stay below 2^52.
local DEC_LOW = 1e15

-- true when s is a canonical non-negative decimal integer of at most 20 digits
local function dec_valid(s)
  return type(s) == 'string' and #s >= 1 and #s <= 20
    and (s == '0' or string.match(s, '^[1-9]%d*$') ~= nil)
end

-- true when s is a decimal integer from lo to 2^52 (for steps, counts and gaps)
local function small_valid(s, lo)
  if type(s) ~= 'string' or not string.match(s, '^%d+$') or #s > 16 then return false end
  local n = tonumber(s)
  return n >= lo and n <= 4503599627370496
end

local function dec_split(s)
  local n = #s
  if n <= 15 then return 0, tonumber(s) end
  return tonumber(string.sub(s, 1, n - 15)), tonumber(string.sub(s, n - 14))
end

local function dec_join(hi, lo)
  if hi == 0 then return string.format('%.0f', lo) end
  return string.format('%.0f', hi) .. string.format('%015.0f', lo)
end

-- -1, 0 or 1 as a is below, equal to or above b
local function dec_cmp(a, b)
  if #a ~= #b then return (#a < #b) and -1 or 1 end
  if a == b then return 0 end
  -- equal lengths: compare digit by digit (no locale-dependent string collation)
  for i = 1, #a do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return (x < y) and -1 or 1 end
  end
  return 0
end

-- a + k for a small integer 0 <= k <= 2^52, exact
local function dec_add(a, k)
  local hi, lo = dec_split(a)
  local s = lo + k
  local carry = math.floor(s / DEC_LOW)
  return dec_join(hi + carry, s - carry * DEC_LOW)
end

-- a - b as a double: exact whenever the true difference is below 2^53 in magnitude,
-- and of the right sign and rough size otherwise (enough to compare with a small count)
local function dec_sub(a, b)
  local ah, al = dec_split(a)
  local bh, bl = dec_split(b)
  return (ah - bh) * DEC_LOW + (al - bl)
end

-- the larger of two decimal strings
local function dec_max(a, b)
  if dec_cmp(a, b) >= 0 then return a end
  return b
end
