-- CBOR integer heads in Lua 5.1 (numbers are doubles): a 64-bit argument is
-- carried as two exact 32-bit halves (hi, lo), so every value of CBOR's
-- integer range -2^64 ..= 2^64-1 is read and written exactly; arithmetic is
-- done on the halves with an explicit carry, never on a double above 2^53.
-- Returns major (0 or 1), hi, lo, bytes used; or nil, why.
local function cbor_int_read(s)
  local b = string.byte(s, 1)
  if not b then return nil, 'empty' end
  local major, ai = math.floor(b / 32), b % 32
  if major > 1 then return nil, 'type' end
  if ai < 24 then return major, 0, ai, 1 end
  local n = ({[24] = 1, [25] = 2, [26] = 4, [27] = 8})[ai]
  if not n or #s < 1 + n then return nil, 'malformed' end
  local hi, lo = 0, 0
  for i = 2, 1 + n do
    local v = string.byte(s, i)
    if n == 8 and i <= 5 then hi = hi * 256 + v else lo = lo * 256 + v end
  end
  return major, hi, lo, 1 + n
end

-- The shortest (canonical) head of major type `major` and argument hi*2^32+lo.
local function cbor_int_head(major, hi, lo)
  local m = major * 32
  local function be(x, n)
    local t = {}
    for i = n, 1, -1 do t[i] = x % 256; x = math.floor(x / 256) end
    return string.char(unpack(t))
  end
  if hi == 0 then
    if lo < 24 then return string.char(m + lo) end
    if lo < 256 then return string.char(m + 24, lo) end
    if lo < 65536 then return string.char(m + 25) .. be(lo, 2) end
    return string.char(m + 26) .. be(lo, 4)
  end
  return string.char(m + 27) .. be(hi, 4) .. be(lo, 4)
end

local TWO32, TWO31 = 4294967296, 2147483648

-- A signed 64-bit value as u = v + 2^63 in halves (0 <= u < 2^64); nil if
-- the value is outside -2^63 ..= 2^63-1.
local function to_offset(major, hi, lo)
  if hi >= TWO31 then return nil end              -- argument >= 2^63
  if major == 0 then return hi + TWO31, lo end     -- v = A
  return TWO31 - 1 - hi, TWO32 - 1 - lo            -- v = -1-A: u = 2^63-1-A
end

-- Adds two offset values; returns major, hi, lo of the sum, or nil on
-- overflow of the signed 64-bit range.
local function add_offsets(h1, l1, h2, l2)
  local lo = l1 + l2
  local carry = 0
  if lo >= TWO32 then lo = lo - TWO32; carry = 1 end
  local hi = h1 + h2 + carry - TWO31                 -- u = u1 + u2 - 2^63
  if hi < 0 or hi >= TWO32 then return nil end
  if hi >= TWO31 then return 0, hi - TWO31, lo end    -- v >= 0: A = u - 2^63
  return 1, TWO31 - 1 - hi, TWO32 - 1 - lo            -- v < 0: A = 2^63-1-u
end

-- incr: the stored CBOR `cur` (false = absent) plus the CBOR integer `delta`.
-- Returns the new canonical CBOR bytes, or an error reply.
local function cbor_incr(cur, delta)
  local h1, l1
  if not cur or cur == '\246' then           -- absent or null counts as 0
    h1, l1 = TWO31, 0
  else
    local major, hi, lo, used = cbor_int_read(cur)
    if not major then
      if hi == 'type' then
        return redis.error_reply('MPIPC_TYPE incr: the value is not an integer')
      end
      return redis.error_reply('MPIPC_CORRUPT incr: malformed CBOR')
    end
    if used ~= #cur then return redis.error_reply('MPIPC_CORRUPT incr: trailing bytes') end
    h1, l1 = to_offset(major, hi, lo)
    if not h1 then return redis.error_reply('MPIPC_INVAL incr: value out of the 64-bit range') end
  end
  local dm, dh, dl = cbor_int_read(delta)
  local h2, l2 = to_offset(dm, dh, dl)
  local m, hi, lo = add_offsets(h1, l1, h2, l2)
  if not m then return redis.error_reply('MPIPC_INVAL incr: integer overflow') end
  return cbor_int_head(m, hi, lo)
end
