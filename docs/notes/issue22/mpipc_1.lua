#!lua name=mpipc_1
-- mpipc server-side functions, layout 1 (docs/REDIS.md).
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

redis.register_function('mpipc_1_q_open', function(KEYS, ARGV)
-- Common to every queue script. KEYS (all share the hash tag {NAME}):
--  [1] items  LIST  the messages, oldest at the head (RPUSH / LPOP)
--  [2] meta   HASH  v, maxsize, max_message, mode, unfinished, shutdown
--  [3] room   LIST  latch: at most one token while there is room (putters wait on it)
--  [4] done   LIST  latch: at most one token while unfinished == 0 (joiners wait on it)
--  [5] shut   LIST  latch: one token once shut down (getters and putters wait on it)
local ITEMS, META, ROOM, DONE, SHUT = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Ensures a latch holds one token (a waiter woken by it puts it back through
-- this same function, so every waiter is woken in turn).
local function latch_set(k) if redis.call('LLEN', k) == 0 then redis.call('RPUSH', k, '1') end end
local function meta()
  local m = redis.call('HMGET', META, 'v', 'maxsize', 'shutdown', 'unfinished')
  if not m[1] then return nil end
  return {maxsize = tonumber(m[2]), shutdown = m[3] == '1', unfinished = tonumber(m[4] or '0')}
end
local function nf() return redis.error_reply('MPIPC_NOTFOUND the queue does not exist (unlinked?)') end
local function room_after(m)   -- after the length changed: open the room latch if there is room
  if m.maxsize > 0 and redis.call('LLEN', ITEMS) < m.maxsize then latch_set(ROOM) end
end

-- ARGV: [1] open mode ('c' create-or-attach, 'C' create only, 'A' attach only)
--       [2] maxsize  [3] max_message  [4] mode ('amo' at-most-once, 'alo' at-least-once)
-- Returns {maxsize, max_message, mode, created(0/1)} or an MPIPC_ error.
local m = redis.call('HMGET', META, 'v', 'maxsize', 'max_message', 'mode')
if not m[1] then
  if ARGV[1] == 'A' then return redis.error_reply('MPIPC_NOTFOUND no such queue') end
  redis.call('HSET', META, 'v', '1', 'maxsize', ARGV[2], 'max_message', ARGV[3], 'mode', ARGV[4],
             'unfinished', '0', 'shutdown', '0')
  latch_set(DONE)
  if tonumber(ARGV[2]) > 0 then latch_set(ROOM) end
  return {tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], 1}
end
if ARGV[1] == 'C' then return redis.error_reply('MPIPC_EXISTS the queue exists') end
if m[1] ~= '1' then return redis.error_reply('MPIPC_VERSION queue layout ' .. m[1] .. ', this library reads 1') end
local function want(field, asked, have)
  if asked ~= '0' and asked ~= have then
    return redis.error_reply('MPIPC_INVAL the queue exists with ' .. field .. ' = ' .. have .. ', not ' .. asked)
  end
end
local e = want('maxsize', ARGV[2], m[2]) or want('max_message', ARGV[3], m[3])
if e then return e end
return {tonumber(m[2]), tonumber(m[3]), m[4], 0}

end)
redis.register_function('mpipc_1_q_put', function(KEYS, ARGV)
-- Common to every queue script. KEYS (all share the hash tag {NAME}):
--  [1] items  LIST  the messages, oldest at the head (RPUSH / LPOP)
--  [2] meta   HASH  v, maxsize, max_message, mode, unfinished, shutdown
--  [3] room   LIST  latch: at most one token while there is room (putters wait on it)
--  [4] done   LIST  latch: at most one token while unfinished == 0 (joiners wait on it)
--  [5] shut   LIST  latch: one token once shut down (getters and putters wait on it)
local ITEMS, META, ROOM, DONE, SHUT = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Ensures a latch holds one token (a waiter woken by it puts it back through
-- this same function, so every waiter is woken in turn).
local function latch_set(k) if redis.call('LLEN', k) == 0 then redis.call('RPUSH', k, '1') end end
local function meta()
  local m = redis.call('HMGET', META, 'v', 'maxsize', 'shutdown', 'unfinished')
  if not m[1] then return nil end
  return {maxsize = tonumber(m[2]), shutdown = m[3] == '1', unfinished = tonumber(m[4] or '0')}
end
local function nf() return redis.error_reply('MPIPC_NOTFOUND the queue does not exist (unlinked?)') end
local function room_after(m)   -- after the length changed: open the room latch if there is room
  if m.maxsize > 0 and redis.call('LLEN', ITEMS) < m.maxsize then latch_set(ROOM) end
end

-- ARGV: [1] flags: 'w' = register to wait if there is no room (the caller will
--           block on the room and shut latches), '-' = do not
--       [2..] the messages, in order
-- Returns the number put (>= 1), or 0 when full (nothing put), or an error.
local m = meta()
if not m then return nf() end
if m.shutdown then return redis.error_reply('MPIPC_SHUTDOWN the queue is shut down') end
local n = #ARGV - 1
if m.maxsize > 0 then
  local room = m.maxsize - redis.call('LLEN', ITEMS)
  if room < n then n = room end
end
if n <= 0 then
  redis.call('DEL', ROOM)          -- no room: any token is stale; the next get sets it
  return 0
end
for i = 2, n + 1, 1000 do          -- unpack() is bounded by Lua's C stack: chunks of 1000
  redis.call('RPUSH', ITEMS, unpack(ARGV, i, math.min(i + 999, n + 1)))
end
if m.unfinished == 0 then redis.call('DEL', DONE) end
redis.call('HINCRBY', META, 'unfinished', n)
room_after(m)                      -- chain: wake the next putter if room is left
return n

end)
redis.register_function('mpipc_1_q_get', function(KEYS, ARGV)
-- Common to every queue script. KEYS (all share the hash tag {NAME}):
--  [1] items  LIST  the messages, oldest at the head (RPUSH / LPOP)
--  [2] meta   HASH  v, maxsize, max_message, mode, unfinished, shutdown
--  [3] room   LIST  latch: at most one token while there is room (putters wait on it)
--  [4] done   LIST  latch: at most one token while unfinished == 0 (joiners wait on it)
--  [5] shut   LIST  latch: one token once shut down (getters and putters wait on it)
local ITEMS, META, ROOM, DONE, SHUT = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Ensures a latch holds one token (a waiter woken by it puts it back through
-- this same function, so every waiter is woken in turn).
local function latch_set(k) if redis.call('LLEN', k) == 0 then redis.call('RPUSH', k, '1') end end
local function meta()
  local m = redis.call('HMGET', META, 'v', 'maxsize', 'shutdown', 'unfinished')
  if not m[1] then return nil end
  return {maxsize = tonumber(m[2]), shutdown = m[3] == '1', unfinished = tonumber(m[4] or '0')}
end
local function nf() return redis.error_reply('MPIPC_NOTFOUND the queue does not exist (unlinked?)') end
local function room_after(m)   -- after the length changed: open the room latch if there is room
  if m.maxsize > 0 and redis.call('LLEN', ITEMS) < m.maxsize then latch_set(ROOM) end
end

-- Non-blocking get of up to ARGV[1] messages (the fast path of a bounded
-- queue, and every get with timeout 0).
-- Returns {status, msg...}: status 0 = messages follow, 1 = empty, 2 = shut down and drained.
local m = meta()
if not m then return nf() end
local got = redis.call('LPOP', ITEMS, ARGV[1])
if got then
  room_after(m)
  table.insert(got, 1, 0)
  return got
end
if m.shutdown then return {2} end
return {1}

end)
redis.register_function('mpipc_1_q_task_done', function(KEYS, ARGV)
-- Common to every queue script. KEYS (all share the hash tag {NAME}):
--  [1] items  LIST  the messages, oldest at the head (RPUSH / LPOP)
--  [2] meta   HASH  v, maxsize, max_message, mode, unfinished, shutdown
--  [3] room   LIST  latch: at most one token while there is room (putters wait on it)
--  [4] done   LIST  latch: at most one token while unfinished == 0 (joiners wait on it)
--  [5] shut   LIST  latch: one token once shut down (getters and putters wait on it)
local ITEMS, META, ROOM, DONE, SHUT = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Ensures a latch holds one token (a waiter woken by it puts it back through
-- this same function, so every waiter is woken in turn).
local function latch_set(k) if redis.call('LLEN', k) == 0 then redis.call('RPUSH', k, '1') end end
local function meta()
  local m = redis.call('HMGET', META, 'v', 'maxsize', 'shutdown', 'unfinished')
  if not m[1] then return nil end
  return {maxsize = tonumber(m[2]), shutdown = m[3] == '1', unfinished = tonumber(m[4] or '0')}
end
local function nf() return redis.error_reply('MPIPC_NOTFOUND the queue does not exist (unlinked?)') end
local function room_after(m)   -- after the length changed: open the room latch if there is room
  if m.maxsize > 0 and redis.call('LLEN', ITEMS) < m.maxsize then latch_set(ROOM) end
end

-- ARGV[1] = how many tasks are done (>= 1). Returns unfinished after.
local m = meta()
if not m then return nf() end
local n = tonumber(ARGV[1])
if m.unfinished < n then return redis.error_reply('MPIPC_INVAL task_done() called too many times') end
local u = redis.call('HINCRBY', META, 'unfinished', -n)
if u == 0 then latch_set(DONE) end
return u

end)
redis.register_function('mpipc_1_q_shutdown', function(KEYS, ARGV)
-- Common to every queue script. KEYS (all share the hash tag {NAME}):
--  [1] items  LIST  the messages, oldest at the head (RPUSH / LPOP)
--  [2] meta   HASH  v, maxsize, max_message, mode, unfinished, shutdown
--  [3] room   LIST  latch: at most one token while there is room (putters wait on it)
--  [4] done   LIST  latch: at most one token while unfinished == 0 (joiners wait on it)
--  [5] shut   LIST  latch: one token once shut down (getters and putters wait on it)
local ITEMS, META, ROOM, DONE, SHUT = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Ensures a latch holds one token (a waiter woken by it puts it back through
-- this same function, so every waiter is woken in turn).
local function latch_set(k) if redis.call('LLEN', k) == 0 then redis.call('RPUSH', k, '1') end end
local function meta()
  local m = redis.call('HMGET', META, 'v', 'maxsize', 'shutdown', 'unfinished')
  if not m[1] then return nil end
  return {maxsize = tonumber(m[2]), shutdown = m[3] == '1', unfinished = tonumber(m[4] or '0')}
end
local function nf() return redis.error_reply('MPIPC_NOTFOUND the queue does not exist (unlinked?)') end
local function room_after(m)   -- after the length changed: open the room latch if there is room
  if m.maxsize > 0 and redis.call('LLEN', ITEMS) < m.maxsize then latch_set(ROOM) end
end

-- ARGV[1] = '1' immediate (discard what is left, counted as done), '0' not.
local m = meta()
if not m then return nf() end
redis.call('HSET', META, 'shutdown', '1')
if ARGV[1] == '1' then
  local n = redis.call('LLEN', ITEMS)
  redis.call('DEL', ITEMS)
  local u = m.unfinished - n
  if u < 0 then u = 0 end
  redis.call('HSET', META, 'unfinished', u)
  if u == 0 then latch_set(DONE) end
end
latch_set(SHUT)
return 1

end)
redis.register_function('mpipc_1_latch_rearm', function(KEYS, ARGV)
-- Common to every queue script. KEYS (all share the hash tag {NAME}):
--  [1] items  LIST  the messages, oldest at the head (RPUSH / LPOP)
--  [2] meta   HASH  v, maxsize, max_message, mode, unfinished, shutdown
--  [3] room   LIST  latch: at most one token while there is room (putters wait on it)
--  [4] done   LIST  latch: at most one token while unfinished == 0 (joiners wait on it)
--  [5] shut   LIST  latch: one token once shut down (getters and putters wait on it)
local ITEMS, META, ROOM, DONE, SHUT = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Ensures a latch holds one token (a waiter woken by it puts it back through
-- this same function, so every waiter is woken in turn).
local function latch_set(k) if redis.call('LLEN', k) == 0 then redis.call('RPUSH', k, '1') end end
local function meta()
  local m = redis.call('HMGET', META, 'v', 'maxsize', 'shutdown', 'unfinished')
  if not m[1] then return nil end
  return {maxsize = tonumber(m[2]), shutdown = m[3] == '1', unfinished = tonumber(m[4] or '0')}
end
local function nf() return redis.error_reply('MPIPC_NOTFOUND the queue does not exist (unlinked?)') end
local function room_after(m)   -- after the length changed: open the room latch if there is room
  if m.maxsize > 0 and redis.call('LLEN', ITEMS) < m.maxsize then latch_set(ROOM) end
end

-- A waiter woken by a latch token puts it back (so the next waiter wakes),
-- if the latch's condition still holds. ARGV[1] = which: 'shut', 'done', 'room'.
local m = meta()
if not m then return nf() end
if ARGV[1] == 'shut' then if m.shutdown then latch_set(SHUT) end
elseif ARGV[1] == 'done' then if m.unfinished == 0 then latch_set(DONE) return 1 end return 0
elseif ARGV[1] == 'room' then room_after(m) end
return 1

end)
redis.register_function{function_name='mpipc_1_q_qsize', callback=function(KEYS, ARGV)
-- Common to every queue script. KEYS (all share the hash tag {NAME}):
--  [1] items  LIST  the messages, oldest at the head (RPUSH / LPOP)
--  [2] meta   HASH  v, maxsize, max_message, mode, unfinished, shutdown
--  [3] room   LIST  latch: at most one token while there is room (putters wait on it)
--  [4] done   LIST  latch: at most one token while unfinished == 0 (joiners wait on it)
--  [5] shut   LIST  latch: one token once shut down (getters and putters wait on it)
local ITEMS, META, ROOM, DONE, SHUT = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Ensures a latch holds one token (a waiter woken by it puts it back through
-- this same function, so every waiter is woken in turn).
local function latch_set(k) if redis.call('LLEN', k) == 0 then redis.call('RPUSH', k, '1') end end
local function meta()
  local m = redis.call('HMGET', META, 'v', 'maxsize', 'shutdown', 'unfinished')
  if not m[1] then return nil end
  return {maxsize = tonumber(m[2]), shutdown = m[3] == '1', unfinished = tonumber(m[4] or '0')}
end
local function nf() return redis.error_reply('MPIPC_NOTFOUND the queue does not exist (unlinked?)') end
local function room_after(m)   -- after the length changed: open the room latch if there is room
  if m.maxsize > 0 and redis.call('LLEN', ITEMS) < m.maxsize then latch_set(ROOM) end
end

local m = meta()
if not m then return nf() end
return {redis.call('LLEN', ITEMS), m.unfinished, m.shutdown and 1 or 0, m.maxsize}

end, flags={'no-writes'}}
redis.register_function('mpipc_1_d_incr', function(KEYS, ARGV)
-- KEYS[1] = dict hash; ARGV[1] = field (canonical CBOR key); ARGV[2] = delta (CBOR integer)
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local new = cbor_incr(cur, ARGV[2])
if type(new) == 'table' then return new end
redis.call('HSET', KEYS[1], ARGV[1], new)
return new

end)
-- ---- dict (HASH of canonical CBOR key -> CBOR value) ----
redis.register_function('mpipc_1_d_cas', function(KEYS, ARGV)
  -- ARGV: field, expected bytes, new bytes. {1} swapped; {0, current or false}
  local cur = redis.call('HGET', KEYS[1], ARGV[1])
  if cur == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return {1} end
  return {0, cur}
end)
redis.register_function('mpipc_1_d_get_or_set', function(KEYS, ARGV)
  redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
  return redis.call('HGET', KEYS[1], ARGV[1])
end)
redis.register_function('mpipc_1_v_incr', function(KEYS, ARGV)
  local new = cbor_incr(redis.call('GET', KEYS[1]), ARGV[1])
  if type(new) == 'table' then return new end
  redis.call('SET', KEYS[1], new)
  return new
end)
-- ---- lease lock: KEYS lock (HASH owner, fence, depth; PEXPIRE lease), seq (fence counter), wake (LIST)
redis.register_function('mpipc_1_lock_acquire', function(KEYS, ARGV)
  -- ARGV: owner, lease_ms, reentrant ('1'/'0'). {1, fence} acquired; {0, pttl} held by another
  local o = redis.call('HGET', KEYS[1], 'owner')
  if not o then
    local fence = redis.call('INCR', KEYS[2])
    redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'fence', fence, 'depth', 1)
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, fence}
  end
  if o == ARGV[1] then
    if ARGV[3] ~= '1' then return redis.error_reply('MPIPC_INVAL this Lock is already held by the caller (not reentrant)') end
    redis.call('HINCRBY', KEYS[1], 'depth', 1)
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tonumber(redis.call('HGET', KEYS[1], 'fence'))}
  end
  redis.call('DEL', KEYS[3])                  -- held: any wake token is stale
  return {0, redis.call('PTTL', KEYS[1])}
end)
redis.register_function('mpipc_1_lock_release', function(KEYS, ARGV)
  -- ARGV: owner. Returns depth left (0 = released)
  if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
    return redis.error_reply('MPIPC_PERM release of a lock not held (or whose lease expired)')
  end
  local d = redis.call('HINCRBY', KEYS[1], 'depth', -1)
  if d > 0 then return d end
  redis.call('DEL', KEYS[1])
  if redis.call('LLEN', KEYS[3]) == 0 then redis.call('RPUSH', KEYS[3], '1') end
  return 0
end)
redis.register_function('mpipc_1_lease_renew', function(KEYS, ARGV)
  -- ARGV: owner, lease_ms. 1 renewed, 0 lost
  if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end)
-- ---- lease semaphore: KEYS holders (ZSET holder -> expiry ms), meta (HASH value, initial, bounded), seq, wake
local function now_ms() local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000) end
redis.register_function('mpipc_1_sem_acquire', function(KEYS, ARGV)
  -- ARGV: holder, lease_ms, initial value (used when creating), bounded ('1'/'0')
  local now = now_ms()
  redis.call('HSETNX', KEYS[2], 'value', ARGV[3])
  redis.call('HSETNX', KEYS[2], 'initial', ARGV[3])
  redis.call('HSETNX', KEYS[2], 'bounded', ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  local value = tonumber(redis.call('HGET', KEYS[2], 'value'))
  if redis.call('ZCARD', KEYS[1]) < value then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
    return {1, redis.call('INCR', KEYS[3])}
  end
  redis.call('DEL', KEYS[4])
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - now}      -- ms until the earliest lease ends
end)
redis.register_function('mpipc_1_sem_release', function(KEYS, ARGV)
  -- ARGV: holder ('' = a bare release, as Python's release() without acquire)
  if ARGV[1] == '' or redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
    local m = redis.call('HMGET', KEYS[2], 'value', 'initial', 'bounded')
    local avail = tonumber(m[1] or '0') - redis.call('ZCARD', KEYS[1])
    if m[3] == '1' and avail + 1 > tonumber(m[2]) then
      return redis.error_reply('MPIPC_INVAL semaphore released too many times')
    end
    redis.call('HINCRBY', KEYS[2], 'value', 1)
  end
  if redis.call('LLEN', KEYS[4]) == 0 then redis.call('RPUSH', KEYS[4], '1') end
  return 1
end)
-- ---- event: KEYS flag (STRING), wake (LIST latch)
redis.register_function('mpipc_1_ev_set', function(KEYS, ARGV)
  redis.call('SET', KEYS[1], '1')
  if redis.call('LLEN', KEYS[2]) == 0 then redis.call('RPUSH', KEYS[2], '1') end
  return 1
end)
redis.register_function('mpipc_1_ev_clear', function(KEYS, ARGV)
  redis.call('DEL', KEYS[1], KEYS[2]) return 1
end)
redis.register_function('mpipc_1_ev_rearm', function(KEYS, ARGV)
  if redis.call('EXISTS', KEYS[1]) == 1 then
    if redis.call('LLEN', KEYS[2]) == 0 then redis.call('RPUSH', KEYS[2], '1') end
    return 1
  end
  return 0
end)

-- ---- at-least-once mode: KEYS items, meta, room, done, shut, consumers (ZSET cid -> lease end ms)
local function reap(items, consumers, prefix, now, limit)
  -- Gives the messages of every consumer whose lease ended back to the head of
  -- the queue, oldest first; returns how many.
  local n = 0
  for _, cid in ipairs(redis.call('ZRANGEBYSCORE', consumers, '-inf', now, 'LIMIT', 0, limit)) do
    local proc = prefix .. cid
    while redis.call('LMOVE', proc, items, 'RIGHT', 'LEFT') do n = n + 1 end
    redis.call('ZREM', consumers, cid)
  end
  return n
end
redis.register_function('mpipc_1_q_lease', function(KEYS, ARGV)
  -- ARGV: cid, lease_ms, proc key prefix ('mpipc:q:{NAME}:proc:'). Registers or renews
  -- this consumer's lease, reaps up to 16 dead consumers. Returns {requeued, lease_ok}
  local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)
  local had = redis.call('ZSCORE', KEYS[6], ARGV[1])
  local ok = 1
  if not had and redis.call('EXISTS', ARGV[3] .. ARGV[1]) == 1 then ok = 0 end
  local n = reap(KEYS[1], KEYS[6], ARGV[3], now, 16)
  redis.call('ZADD', KEYS[6], now + tonumber(ARGV[2]), ARGV[1])
  return {n, ok}
end)
redis.register_function('mpipc_1_q_ack', function(KEYS, ARGV)
  -- KEYS items, meta, room, done, shut, consumers, proc. ARGV: cid, n
  local n = tonumber(ARGV[2])
  if redis.call('LLEN', KEYS[7]) < n then
    if not redis.call('ZSCORE', KEYS[6], ARGV[1]) then
      return redis.error_reply('MPIPC_BROKEN the lease of this consumer ended: its messages went back to the queue')
    end
    return redis.error_reply('MPIPC_INVAL task_done() called too many times')
  end
  redis.call('LPOP', KEYS[7], n)
  local u = redis.call('HINCRBY', KEYS[2], 'unfinished', -n)
  if u == 0 and redis.call('LLEN', KEYS[4]) == 0 then redis.call('RPUSH', KEYS[4], '1') end
  return u
end)
