#!lua name=mpipc_1
-- mpipc's server-side library for Redis >= 7.0 and Valkey >= 7.2: key
-- layout 1 (the `1` of `mpipc_1`), revision REVISION below. Loaded once per
-- server with FUNCTION LOAD (the Rust core: src/redis/, include_str!) and
-- called as `FCALL mpipc_1_<name> numkeys key... arg...`. Every function,
-- its KEYS, ARGV and replies, and the key layout are documented in
-- docs/REDIS.md, which any plain Redis client can follow to interoperate.
--
-- Conventions:
--  * Errors are `MPIPC_<KIND> text`; KIND is one of INVAL, TYPE, NOTFOUND,
--    EXISTS, SHUTDOWN, PERM, BROKEN, VERSION, CORRUPT, INDEX, TOOBIG, and
--    the client maps it to the MP_E_<KIND> status of the same name.
--  * Integers in ARGV are decimal strings. Values (dict, list, value) are
--    canonical CBOR (docs/TYPES.md), stored as the bytes the client sent.
--  * All keys of one object carry the hash tag {NAME}, so they live in one
--    Redis Cluster slot; a function touches only its object's keys.
--  * Waiters never poll: they block (BLMPOP) on a "latch", a LIST holding at
--    most one token while its condition holds. A woken waiter puts the token
--    back (latch_rearm, ev_rearm) if the condition still holds, so every
--    waiter wakes in turn; the change that ends the condition DELs it.
--  * Server time (TIME, milliseconds) is the only clock for leases, so
--    clients on several machines need no synchronised clocks.
--  * Functions that only shrink or rewrite data carry 'allow-oom': a server
--    at maxmemory (noeviction) still lets consumers drain and holders
--    release; puts and creations then fail with -OOM (MP_E_FULL).
--
-- Lua 5.1 numbers are doubles: integers are exact up to 2^53, which bounds
-- every count and length here; CBOR integers (incr) are handled as two
-- 32-bit halves (cbor_incr) so the whole signed 64-bit range is exact.

local REVISION = 1

-- ---------------------------------------------------------------------------
-- Shared helpers (the library is one chunk: these locals are shared by every
-- registered function, so each function body is only its own logic).

-- An error reply the client maps to MP_E_<kind>.
local function fail(kind, text)
  return redis.error_reply('MPIPC_' .. kind .. ' ' .. text)
end

-- Registers mpipc_1_<name> with the given flags.
local function register(name, flags, callback)
  redis.register_function{function_name = 'mpipc_1_' .. name, callback = callback, flags = flags}
end
local NONE, RO, DRAIN = {}, {'no-writes'}, {'allow-oom'}

-- A decimal integer argument (a plain client may send anything: no hex, no
-- exponent, no spaces), or nil. At most 15 digits, so the double is exact.
local function int(v)
  if type(v) ~= 'string' or not string.find(v, '^%-?%d+$') or #string.gsub(v, '^%-', '') > 15 then
    return nil
  end
  return tonumber(v)
end

-- nil when KEYS has at least n keys, else the error reply.
local function need_keys(KEYS, n, name)
  if #KEYS < n then
    return fail('INVAL', 'mpipc_1_' .. name .. ' needs ' .. n .. ' keys, got ' .. #KEYS)
  end
end

-- Ensures the latch `k` holds one token.
local function latch_set(k)
  if redis.call('LLEN', k) == 0 then redis.call('RPUSH', k, '1') end
end

-- Milliseconds of the server's clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- ---------------------------------------------------------------------------
-- CBOR integers in Lua 5.1 (exact over the whole signed 64-bit range).
--
-- A head's argument is read as (hi, lo), two exact 32-bit halves. A signed
-- value v is carried in offset form u = v + 2^63 in [0, 2^64), as halves:
-- major 0 (v = A): (hi + 2^31, lo); major 1 (v = -1-A): (2^31-1-hi,
-- 2^32-1-lo), no borrow possible. A sum is lo = l1+l2 with a carry and
-- hi = h1+h2+carry-2^31: no intermediate above 2^34, all exact; the result
-- is in range iff 0 <= hi < 2^32.

local TWO32, TWO31 = 4294967296, 2147483648
local ARG_BYTES = {[24] = 1, [25] = 2, [26] = 4, [27] = 8}

-- The head at byte `pos` of `s`: major, additional info, argument (hi, lo;
-- both 0 for an indefinite length), position after the head; or nil.
local function cbor_head(s, pos)
  local b = string.byte(s, pos)
  if not b then return nil end
  local major, ai = math.floor(b / 32), b % 32
  if ai < 24 then return major, ai, 0, ai, pos + 1 end
  if ai == 31 then return major, ai, 0, 0, pos + 1 end
  local n = ARG_BYTES[ai]
  if not n or #s < pos + n then return nil end
  local hi, lo = 0, 0
  for i = pos + 1, pos + n do
    local v = string.byte(s, i)
    if n == 8 and i <= pos + 4 then hi = hi * 256 + v else lo = lo * 256 + v end
  end
  return major, ai, hi, lo, pos + 1 + n
end

-- The magnitude bytes of a bignum's byte string at `pos` (definite, or
-- indefinite chunks), and the position after it; or nil.
local function cbor_bytes(s, pos)
  local major, ai, hi, lo, p = cbor_head(s, pos)
  if major ~= 2 then return nil end
  if ai ~= 31 then
    if hi ~= 0 or p + lo - 1 > #s then return nil end
    return string.sub(s, p, p + lo - 1), p + lo
  end
  local parts = {}
  while true do
    if string.byte(s, p) == 255 then return table.concat(parts), p + 1 end
    local part
    part, p = cbor_bytes(s, p)
    if not part then return nil end
    table.insert(parts, part)
  end
end

-- The integer item `s` as (major 0/1, hi, lo), as the manager's decoder
-- reads it: tag 55799 dropped, a bignum (tags 2/3) that fits 64 bits is that
-- integer; or nil, why: 'null' (null or undefined), 'type' (not an integer),
-- 'range' (an integer beyond 64 bits), 'corrupt'.
local function cbor_int(s)
  local pos = 1
  while true do
    local major, ai, hi, lo, p = cbor_head(s, pos)
    if not major then return nil, 'corrupt' end
    if major <= 1 then
      if ai == 31 or ai > 27 then return nil, 'corrupt' end
      if p ~= #s + 1 then return nil, 'corrupt' end
      return major, hi, lo
    end
    if major == 7 and (ai == 22 or ai == 23) then
      if p ~= #s + 1 then return nil, 'corrupt' end
      return nil, 'null'
    end
    if major ~= 6 or ai == 31 then return nil, 'type' end
    if hi == 0 and lo == 55799 then
      pos = p                                     -- self-described CBOR: no meaning
    elseif hi == 0 and (lo == 2 or lo == 3) then
      local mag, after = cbor_bytes(s, p)
      if not mag then return nil, 'type' end      -- wrong content: not a bignum
      if after ~= #s + 1 then return nil, 'corrupt' end
      local first = string.find(mag, '[^%z]')
      if not first then return lo - 2, 0, 0 end
      mag = string.sub(mag, first)
      if #mag > 16 then return nil, 'type' end    -- beyond 128 bits: stays a tag
      if #mag > 8 then return nil, 'range' end
      local h, l = 0, 0
      for i = 1, #mag do
        local v = string.byte(mag, i)
        if #mag - i >= 4 then h = h * 256 + v else l = l * 256 + v end
      end
      return lo - 2, h, l
    else
      return nil, 'type'
    end
  end
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

-- A signed 64-bit value in offset form (halves), or nil when the argument
-- is outside -2^63 ..= 2^63-1.
local function to_offset(major, hi, lo)
  if hi >= TWO31 then return nil end              -- argument >= 2^63
  if major == 0 then return hi + TWO31, lo end     -- v = A
  return TWO31 - 1 - hi, TWO32 - 1 - lo            -- v = -1-A: u = 2^63-1-A
end

-- The sum of two offset values as major, hi, lo; nil on overflow.
local function add_offsets(h1, l1, h2, l2)
  local lo = l1 + l2
  local carry = 0
  if lo >= TWO32 then lo = lo - TWO32; carry = 1 end
  local hi = h1 + h2 + carry - TWO31                 -- u = u1 + u2 - 2^63
  if hi < 0 or hi >= TWO32 then return nil end
  if hi >= TWO31 then return 0, hi - TWO31, lo end    -- v >= 0: A = u - 2^63
  return 1, TWO31 - 1 - hi, TWO32 - 1 - lo            -- v < 0: A = 2^63-1-u
end

-- incr: the stored CBOR `cur` (false = absent) plus the CBOR integer
-- `delta`, with the local manager's rules (src/manager/values.rs add_int):
-- absent or null counts as 0; a stored integer outside i64 is INVAL, a
-- result outside i64 is INVAL (overflow), anything but an integer is TYPE.
-- Returns the new canonical CBOR bytes, or an error reply (a table).
local function cbor_incr(cur, delta)
  local h1, l1 = TWO31, 0
  if cur then
    local major, hi, lo = cbor_int(cur)
    if major then
      h1, l1 = to_offset(major, hi, lo)
      if not h1 then return fail('INVAL', 'incr: value out of the 64-bit range') end
    elseif hi == 'type' then return fail('TYPE', 'incr: the value is not an integer')
    elseif hi == 'range' then return fail('INVAL', 'incr: value out of the 64-bit range')
    elseif hi == 'corrupt' then return fail('CORRUPT', 'incr: the stored value is not well-formed CBOR')
    end                                              -- 'null': 0
  end
  local dm, dh, dl = cbor_int(delta or '')
  if not dm then
    if dh == 'corrupt' then return fail('CORRUPT', 'incr: the delta is not well-formed CBOR') end
    if dh == 'range' then return fail('INVAL', 'incr: delta out of the 64-bit range') end
    return fail('TYPE', 'incr: the delta is not an integer')
  end
  local h2, l2 = to_offset(dm, dh, dl)
  if not h2 then return fail('INVAL', 'incr: delta out of the 64-bit range') end
  local m, hi, lo = add_offsets(h1, l1, h2, l2)
  if not m then return fail('INVAL', 'incr: integer overflow') end
  return cbor_int_head(m, hi, lo)
end

-- ---------------------------------------------------------------------------
-- Queue / JoinableQueue. KEYS (one hash tag {NAME}; P = mpipc: or mpipc:NS:):
--  [1] P q:{NAME}:items      LIST  messages, oldest at the head (RPUSH in, LPOP out)
--  [2] P q:{NAME}:meta       HASH  v, maxsize, max_message, mode, unfinished, shutdown
--  [3] P q:{NAME}:room       LIST  latch: a token while maxsize > 0 and there is room
--  [4] P q:{NAME}:done       LIST  latch: a token while unfinished == 0
--  [5] P q:{NAME}:shut       LIST  latch: a token once shut down
--  [6] P q:{NAME}:consumers  ZSET  at-least-once: consumer id -> lease end (ms)
--  [7] P q:{NAME}:proc:<cid> LIST  at-least-once: consumer cid's messages in flight

-- The queue's meta as a table, or nil and the error reply (fewer keys than
-- `nkeys`, no such queue, another layout).
local function q_meta(KEYS, nkeys, name)
  local e = need_keys(KEYS, nkeys, name)
  if e then return nil, e end
  local v = redis.call('HMGET', KEYS[2], 'v', 'maxsize', 'shutdown', 'unfinished', 'max_message', 'mode')
  if not v[1] then return nil, fail('NOTFOUND', 'the queue does not exist (unlinked?)') end
  if v[1] ~= '1' then
    return nil, fail('VERSION', 'queue layout ' .. v[1] .. ', this library (mpipc_1) reads layout 1')
  end
  return {maxsize = tonumber(v[2]) or 0, shutdown = v[3] == '1', unfinished = tonumber(v[4]) or 0,
          max_message = tonumber(v[5]) or 0, mode = v[6]}
end

-- After the queue got shorter: a token in `room` if a bounded queue has room
-- (wakes the next blocked putter).
local function room_after(KEYS, m)
  if m.maxsize > 0 and redis.call('LLEN', KEYS[1]) < m.maxsize then latch_set(KEYS[3]) end
end

-- Sets `unfinished` to u (a count that went down) and the done latch at 0.
local function unfinished_down(KEYS, n)
  local u = redis.call('HINCRBY', KEYS[2], 'unfinished', -n)
  if u == 0 then latch_set(KEYS[4]) end
  return u
end

-- A non-blocking get of up to n messages: {0, msg...} | {1} empty |
-- {2} shut down and drained.
local function q_pop(KEYS, m, n)
  local got = redis.call('LPOP', KEYS[1], n)
  if got then
    room_after(KEYS, m)
    table.insert(got, 1, 0)
    return got
  end
  if m.shutdown then return {2} end
  return {1}
end

-- ARGV: [1] how: 'c' create or attach, 'C' create only, 'A' attach only
--       [2] maxsize (0 = unbounded)  [3] max_message (0 = none)
--       [4] ack mode: 'amo' at-most-once, 'alo' at-least-once, '' = the
--           queue's own (at-most-once when creating)
-- Attaching, a nonzero maxsize / max_message or a mode that differs from
-- the queue's is INVAL. Returns {maxsize, max_message, mode, created 0/1}.
register('q_open', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 5, 'q_open')
  if e then return e end
  local how, maxsize, maxmsg, mode = ARGV[1], int(ARGV[2]), int(ARGV[3]), ARGV[4] or ''
  if how ~= 'c' and how ~= 'C' and how ~= 'A' then
    return fail('INVAL', "q_open: ARGV[1] must be 'c', 'C' or 'A'")
  end
  if not maxsize or maxsize < 0 then return fail('INVAL', 'q_open: maxsize must be an integer >= 0') end
  if not maxmsg or maxmsg < 0 then return fail('INVAL', 'q_open: max_message must be an integer >= 0') end
  if mode ~= '' and mode ~= 'amo' and mode ~= 'alo' then
    return fail('INVAL', "q_open: mode must be 'amo', 'alo' or ''")
  end
  local m = redis.call('HMGET', KEYS[2], 'v', 'maxsize', 'max_message', 'mode')
  if not m[1] then
    if how == 'A' then return fail('NOTFOUND', 'no such queue') end
    if mode == '' then mode = 'amo' end
    redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])   -- latches a plain client may have left
    redis.call('HSET', KEYS[2], 'v', '1', 'maxsize', maxsize, 'max_message', maxmsg, 'mode', mode,
               'unfinished', '0', 'shutdown', '0')
    latch_set(KEYS[4])
    if maxsize > 0 and redis.call('LLEN', KEYS[1]) < maxsize then latch_set(KEYS[3]) end
    return {maxsize, maxmsg, mode, 1}
  end
  if how == 'C' then return fail('EXISTS', 'the queue exists') end
  if m[1] ~= '1' then
    return fail('VERSION', 'queue layout ' .. m[1] .. ', this library (mpipc_1) reads layout 1')
  end
  local have_max, have_msg = tonumber(m[2]) or 0, tonumber(m[3]) or 0
  if maxsize ~= 0 and maxsize ~= have_max then
    return fail('INVAL', 'the queue exists with maxsize = ' .. have_max .. ', not ' .. maxsize)
  end
  if maxmsg ~= 0 and maxmsg ~= have_msg then
    return fail('INVAL', 'the queue exists with max_message = ' .. have_msg .. ', not ' .. maxmsg)
  end
  if mode ~= '' and mode ~= m[4] then
    local words = {amo = 'at-most-once', alo = 'at-least-once'}
    return fail('INVAL', 'the queue exists with ack = ' .. (words[m[4]] or tostring(m[4])) ..
                ', not ' .. words[mode])
  end
  return {have_max, have_msg, m[4], 0}
end)

-- ARGV: [1] flags '-' (or 'w': the same; reserved)  [2..] the messages, in
-- order. Puts as many as fit (put_many), in order. Returns the number put
-- (>= 1), or 0 when the queue is full (nothing put; the stale room token is
-- removed, so a putter can block on room and shut). SHUTDOWN once shut down;
-- TOOBIG (nothing put) if a message is longer than max_message.
register('q_put', NONE, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 5, 'q_put')
  if not m then return e end
  if m.shutdown then return fail('SHUTDOWN', 'the queue is shut down') end
  local n = #ARGV - 1
  if n < 1 then return fail('INVAL', 'q_put: no message') end
  if m.max_message > 0 then
    for i = 2, #ARGV do
      if #ARGV[i] > m.max_message then
        return fail('TOOBIG', 'a message of ' .. #ARGV[i] .. ' bytes is over max_message ' .. m.max_message)
      end
    end
  end
  if m.maxsize > 0 then
    local room = m.maxsize - redis.call('LLEN', KEYS[1])
    if room < n then n = room end
    if n <= 0 then
      redis.call('DEL', KEYS[3])
      return 0
    end
  end
  for i = 2, n + 1, 1000 do          -- unpack() is bounded by Lua's C stack: chunks of 1000
    redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, n + 1)))
  end
  if m.unfinished == 0 then redis.call('DEL', KEYS[4]) end
  redis.call('HINCRBY', KEYS[2], 'unfinished', n)
  room_after(KEYS, m)                -- chain: the next blocked putter if room is left
  return n
end)

-- ARGV: [1] n >= 1. A non-blocking get of up to n messages (a bounded
-- queue's get, every get with timeout 0, the drain after a shutdown wake).
-- Returns {0, msg...} | {1} empty | {2} shut down and drained.
register('q_get', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 5, 'q_get')
  if not m then return e end
  local n = int(ARGV[1])
  if not n or n < 1 then return fail('INVAL', 'q_get: n must be an integer >= 1') end
  return q_pop(KEYS, m, n)
end)

-- ARGV: [1] cap (the caller's buffer, bytes). A non-blocking get of one
-- message that pops it only if it fits: {3, length} leaves a longer one
-- queued and first in line; else the replies of q_get.
register('q_get_into', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 5, 'q_get_into')
  if not m then return e end
  local cap = int(ARGV[1])
  if not cap or cap < 0 then return fail('INVAL', 'q_get_into: cap must be an integer >= 0') end
  local head = redis.call('LINDEX', KEYS[1], 0)
  if head and #head > cap then return {3, #head} end
  return q_pop(KEYS, m, 1)
end)

-- ARGV: [1] n >= 1 tasks done. Returns unfinished after; INVAL if more
-- than unfinished. Sets the done latch at 0.
register('q_task_done', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 5, 'q_task_done')
  if not m then return e end
  local n = int(ARGV[1])
  if not n or n < 1 then return fail('INVAL', 'q_task_done: n must be an integer >= 1') end
  if m.unfinished < n then return fail('INVAL', 'task_done() called too many times') end
  return unfinished_down(KEYS, n)
end)

-- ARGV: [1] '1' immediate (discard what is queued, counted as done, as
-- Python 3.13), '0' not. Sets the shut latch (wakes every blocked getter and
-- putter in turn). Returns 1.
register('q_shutdown', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 5, 'q_shutdown')
  if not m then return e end
  redis.call('HSET', KEYS[2], 'shutdown', '1')
  if ARGV[1] == '1' then
    local n = redis.call('LLEN', KEYS[1])
    redis.call('DEL', KEYS[1])
    local u = m.unfinished - n
    if u < 0 then u = 0 end
    redis.call('HSET', KEYS[2], 'unfinished', u)
    if u == 0 then latch_set(KEYS[4]) end
  end
  latch_set(KEYS[5])
  return 1
end)

-- ARGV: [1] 'shut' | 'done' | 'room'. A waiter woken by a latch token puts
-- it back if the latch's condition still holds, so the next waiter wakes.
-- Returns 1, except 'done' returns 0 when unfinished is not 0 (the joiner
-- waits again).
register('latch_rearm', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 5, 'latch_rearm')
  if not m then return e end
  local which = ARGV[1]
  if which == 'shut' then
    if m.shutdown then latch_set(KEYS[5]) end
  elseif which == 'done' then
    if m.unfinished ~= 0 then return 0 end
    latch_set(KEYS[4])
  elseif which == 'room' then
    room_after(KEYS, m)
  else
    return fail('INVAL', "latch_rearm: ARGV[1] must be 'shut', 'done' or 'room'")
  end
  return 1
end)

-- No ARGV (FCALL_RO). Returns {length, unfinished, shutdown 0/1, maxsize}.
register('q_qsize', RO, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 5, 'q_qsize')
  if not m then return e end
  return {redis.call('LLEN', KEYS[1]), m.unfinished, m.shutdown and 1 or 0, m.maxsize}
end)

-- No ARGV; KEYS[1..6]. Deletes every key of the queue: the six of KEYS and
-- the processing list of every consumer in the consumers ZSET. Returns 1, or
-- 0 when the queue does not exist (no meta: nothing is deleted).
register('q_unlink', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 6, 'q_unlink')
  if e then return e end
  if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
  local prefix = string.sub(KEYS[1], 1, -6) .. 'proc:'
  local cids = redis.call('ZRANGE', KEYS[6], 0, -1)
  for i = 1, #cids, 1000 do
    local batch = {}
    for j = i, math.min(i + 999, #cids) do table.insert(batch, prefix .. cids[j]) end
    redis.call('DEL', unpack(batch))
  end
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
  return 1
end)

-- ---- at-least-once (meta mode 'alo'): consumers lease their messages.
-- A consumer id `cid` (the client's: host:pid:random:n) owns the list
-- P q:{NAME}:proc:<cid> and a score (lease end, server ms) in consumers.

-- The processing-list prefix P q:{NAME}:proc: of the queue whose items key
-- is KEYS[1], or nil and the error reply.
local function proc_prefix(KEYS)
  local items = KEYS[1]
  if string.sub(items, -6) ~= ':items' then
    return nil, fail('INVAL', 'KEYS[1] must be the queue\'s ...:items key')
  end
  return string.sub(items, 1, -6) .. 'proc:'
end

-- Checks the consumer id ARGV[1] and that KEYS[7] is its processing list.
local function check_proc(KEYS, cid)
  local prefix, e = proc_prefix(KEYS)
  if not prefix then return e end
  if type(cid) ~= 'string' or cid == '' then return fail('INVAL', 'the consumer id is empty') end
  if KEYS[7] ~= prefix .. cid then
    return fail('INVAL', 'KEYS[7] must be ' .. prefix .. cid)
  end
end

-- Gives the in-flight messages of the list `proc` back to the head of the
-- queue, oldest first (so they are the next delivered). Returns how many.
local function requeue(items, proc)
  local n = 0
  while redis.call('LMOVE', proc, items, 'RIGHT', 'LEFT') do n = n + 1 end
  return n
end

-- KEYS[1..6]; ARGV: [1] cid  [2] lease_ms >= 1  [3] (optional) the
-- processing-list prefix, which must equal P q:{NAME}:proc: (it is derived
-- from KEYS[1]). Registers or renews this consumer's lease (now + lease_ms)
-- and reaps up to 16 consumers whose lease ended: their messages go back to
-- the head of the queue, and they leave the ZSET. Returns {requeued, ok}:
-- ok 0 when this consumer was not registered but has a processing list (its
-- lease had been taken from it without a requeue), else 1.
register('q_lease', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 6, 'q_lease')
  if not m then return e end
  local prefix, pe = proc_prefix(KEYS)
  if not prefix then return pe end
  local cid, lease = ARGV[1], int(ARGV[2])
  if type(cid) ~= 'string' or cid == '' then return fail('INVAL', 'the consumer id is empty') end
  if not lease or lease < 1 then return fail('INVAL', 'q_lease: lease_ms must be an integer >= 1') end
  if ARGV[3] and ARGV[3] ~= '' and ARGV[3] ~= prefix then
    return fail('INVAL', 'q_lease: ARGV[3] must be ' .. prefix)
  end
  local now = now_ms()
  local ok = 1
  if not redis.call('ZSCORE', KEYS[6], cid) and redis.call('EXISTS', prefix .. cid) == 1 then ok = 0 end
  local n = 0
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now, 'LIMIT', 0, 16)) do
    if dead ~= cid then
      n = n + requeue(KEYS[1], prefix .. dead)
      redis.call('ZREM', KEYS[6], dead)
    end
  end
  redis.call('ZADD', KEYS[6], now + lease, cid)
  return {n, ok}
end)

-- KEYS[1..7] (7 = P q:{NAME}:proc:<cid>); ARGV: [1] cid  [2] n >= 1
-- [3] lease_ms >= 1  [4] (optional) cap. A non-blocking get of up to n
-- messages into this consumer's processing list (registering or renewing
-- its lease), the get_many of an at-least-once consumer. With cap (n must
-- be 1) the head moves only if it is at most cap bytes, else {3, length}.
-- Returns {0, msg...} | {1} empty | {2} shut down and drained | {3, length}.
register('q_alo_get', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 7, 'q_alo_get')
  if not m then return e end
  local cid, n, lease = ARGV[1], int(ARGV[2]), int(ARGV[3])
  local pe = check_proc(KEYS, cid)
  if pe then return pe end
  if not n or n < 1 then return fail('INVAL', 'q_alo_get: n must be an integer >= 1') end
  if not lease or lease < 1 then return fail('INVAL', 'q_alo_get: lease_ms must be an integer >= 1') end
  if ARGV[4] then
    local cap = int(ARGV[4])
    if not cap or cap < 0 or n ~= 1 then
      return fail('INVAL', 'q_alo_get: cap must be an integer >= 0, with n = 1')
    end
    local head = redis.call('LINDEX', KEYS[1], 0)
    if head and #head > cap then return {3, #head} end
  end
  local got = redis.call('LPOP', KEYS[1], n)
  if not got then
    if m.shutdown then return {2} end
    return {1}
  end
  redis.call('ZADD', KEYS[6], now_ms() + lease, cid)
  for i = 1, #got, 1000 do
    redis.call('RPUSH', KEYS[7], unpack(got, i, math.min(i + 999, #got)))
  end
  room_after(KEYS, m)
  table.insert(got, 1, 0)
  return got
end)

-- KEYS[1..7]; ARGV: [1] cid  [2] n >= 1. task_done of an at-least-once
-- consumer: drops the n oldest of its in-flight messages and counts them
-- done. Returns unfinished after. BROKEN when the consumer's lease had ended
-- (its messages went back to the queue); INVAL when it acks more than it
-- holds.
register('q_ack', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 7, 'q_ack')
  if not m then return e end
  local cid, n = ARGV[1], int(ARGV[2])
  local pe = check_proc(KEYS, cid)
  if pe then return pe end
  if not n or n < 1 then return fail('INVAL', 'q_ack: n must be an integer >= 1') end
  if redis.call('LLEN', KEYS[7]) < n then
    if not redis.call('ZSCORE', KEYS[6], cid) then
      return fail('BROKEN', 'the lease of this consumer ended: its messages went back to the queue')
    end
    return fail('INVAL', 'task_done() called too many times')
  end
  if m.unfinished < n then return fail('INVAL', 'task_done() called too many times') end
  redis.call('LPOP', KEYS[7], n)
  return unfinished_down(KEYS, n)
end)

-- KEYS[1..5]; ARGV: the messages, oldest first. A getter that took more
-- than its caller can hold (a buffer too small) puts them back at the head
-- of the queue, in their order. Returns how many. allow-oom: at maxmemory
-- a plain LPUSH is refused, and the messages would be lost.
register('q_unget', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 5, 'q_unget')
  if not m then return e end
  for i = #ARGV, 1, -1 do redis.call('LPUSH', KEYS[1], ARGV[i]) end
  return #ARGV
end)

-- KEYS[1..7]; ARGV: [1] cid  [2] n >= 1. The at-least-once form of q_unget:
-- the n newest messages of the consumer's processing list go back to the
-- head of the queue, in their order. Returns how many moved.
register('q_alo_unget', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 7, 'q_alo_unget')
  if not m then return e end
  local pe = check_proc(KEYS, ARGV[1])
  if pe then return pe end
  local n = int(ARGV[2])
  if not n or n < 1 then return fail('INVAL', 'q_alo_unget: n must be an integer >= 1') end
  local moved = 0
  for _ = 1, n do
    if not redis.call('LMOVE', KEYS[7], KEYS[1], 'RIGHT', 'LEFT') then break end
    moved = moved + 1
  end
  return moved
end)

-- KEYS[1..7]; ARGV: [1] cid. A closing at-least-once consumer: its
-- in-flight messages go back to the head of the queue at once (oldest
-- first) and it leaves the consumers ZSET. Returns how many were requeued.
register('q_release', DRAIN, function(KEYS, ARGV)
  local m, e = q_meta(KEYS, 7, 'q_release')
  if not m then return e end
  local pe = check_proc(KEYS, ARGV[1])
  if pe then return pe end
  local n = requeue(KEYS[1], KEYS[7])
  redis.call('ZREM', KEYS[6], ARGV[1])
  return n
end)

-- ---------------------------------------------------------------------------
-- Dict: KEYS[1] = P d:{NAME}, a HASH of canonical CBOR key -> CBOR value.

-- ARGV: [1] field  [2] delta (a CBOR integer). Returns the new value's CBOR.
register('d_incr', NONE, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'd_incr')
  if e then return e end
  local new = cbor_incr(redis.call('HGET', KEYS[1], ARGV[1]), ARGV[2])
  if type(new) == 'table' then return new end
  redis.call('HSET', KEYS[1], ARGV[1], new)
  return new
end)

-- ARGV: [1] field  [2] expected bytes  [3] new bytes. Swaps iff the field
-- is present and its bytes equal expected (never inserts). Returns {1}, or
-- {0, current bytes or nil} (the client compares values and may retry with
-- the current bytes as expected).
register('d_cas', NONE, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'd_cas')
  if e then return e end
  local cur = redis.call('HGET', KEYS[1], ARGV[1])
  if cur and cur == ARGV[2] then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
    return {1}
  end
  return {0, cur}
end)

-- ARGV: [1] field  [2] default. Returns the value, setting default if absent.
register('d_get_or_set', NONE, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'd_get_or_set')
  if e then return e end
  redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
  return redis.call('HGET', KEYS[1], ARGV[1])
end)

-- ARGV: [1] field. Removes it; returns its value, or nil when absent (the
-- client raises NOTFOUND / returns the default).
register('d_pop', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'd_pop')
  if e then return e end
  local v = redis.call('HGET', KEYS[1], ARGV[1])
  if v then redis.call('HDEL', KEYS[1], ARGV[1]) end
  return v
end)

-- No ARGV. Removes a field chosen by Redis (HRANDFIELD: not LIFO); returns
-- {field, value}, or nil when the dict is empty.
register('d_popitem', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'd_popitem')
  if e then return e end
  local f = redis.call('HRANDFIELD', KEYS[1])
  if not f then return nil end
  local v = redis.call('HGET', KEYS[1], f)
  redis.call('HDEL', KEYS[1], f)
  return {f, v}
end)

-- ---------------------------------------------------------------------------
-- Value: KEYS[1] = P v:{NAME}, a STRING of CBOR.

-- ARGV: [1] delta (a CBOR integer). Returns the new value's CBOR.
register('v_incr', NONE, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'v_incr')
  if e then return e end
  local new = cbor_incr(redis.call('GET', KEYS[1]), ARGV[1])
  if type(new) == 'table' then return new end
  redis.call('SET', KEYS[1], new)
  return new
end)

-- ARGV: [1] expected bytes  [2] new bytes. Returns {1} swapped, or
-- {0, current bytes or nil}, as d_cas.
register('v_cas', NONE, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'v_cas')
  if e then return e end
  local cur = redis.call('GET', KEYS[1])
  if cur and cur == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2])
    return {1}
  end
  return {0, cur}
end)

-- ---------------------------------------------------------------------------
-- List: KEYS[1] = P l:{NAME}, a LIST of CBOR. Indexes are Python's
-- (negative counts from the end). A middle element is removed or replaced
-- through a hole: it is LSET to HOLE, which no mpipc value can equal (0xff,
-- CBOR's "break", never starts an item), then LREM / LINSERT find it
-- server-side, with no copy of the list through Lua.

local HOLE = '\255mpipc:hole\255'

-- The element index of Python index i in a list of `len`, or nil and the
-- error reply naming `method` (the local manager's text).
local function list_index(i, len, method)
  local j = i
  if j < 0 then j = j + len end
  if j < 0 or j >= len then
    return nil, fail('INDEX', method .. ': list index ' .. i .. ' out of range (len ' .. len .. ')')
  end
  return j
end

-- Removes element j of a list of `len` and returns it.
local function list_remove(key, j, len)
  if j == 0 then return redis.call('LPOP', key) end
  if j == len - 1 then return redis.call('RPOP', key) end
  local v = redis.call('LINDEX', key, j)
  redis.call('LSET', key, j, HOLE)
  redis.call('LREM', key, (j < len / 2) and 1 or -1, HOLE)
  return v
end

-- ARGV: [1] i (Python index; '-1' is pop()). Returns the removed element;
-- INDEX 'pop from empty list' or out of range.
register('l_pop_at', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'l_pop_at')
  if e then return e end
  local i = int(ARGV[1])
  if not i then return fail('INVAL', 'pop: the index must be an integer') end
  local len = redis.call('LLEN', KEYS[1])
  if len == 0 then return fail('INDEX', 'pop from empty list') end
  local j, ie = list_index(i, len, 'pop')
  if not j then return ie end
  return list_remove(KEYS[1], j, len)
end)

-- ARGV: [1] i (Python index, clamped as list.insert does)  [2] the element.
-- Returns the new length.
register('l_insert_at', NONE, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'l_insert_at')
  if e then return e end
  local i = int(ARGV[1])
  if not i then return fail('INVAL', 'insert: the index must be an integer') end
  if ARGV[2] == nil then return fail('INVAL', 'insert: the element is missing') end
  local len = redis.call('LLEN', KEYS[1])
  if i < 0 then i = i + len end
  if i <= 0 then return redis.call('LPUSH', KEYS[1], ARGV[2]) end
  if i >= len then return redis.call('RPUSH', KEYS[1], ARGV[2]) end
  local was = redis.call('LINDEX', KEYS[1], i)
  redis.call('LSET', KEYS[1], i, HOLE)
  redis.call('LINSERT', KEYS[1], 'BEFORE', HOLE, ARGV[2])
  redis.call('LSET', KEYS[1], i + 1, was)
  return len + 1
end)

-- ARGV: [1] i (Python index). Deletes the element (del l[i]); returns the
-- new length; INDEX out of range.
register('l_del_at', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'l_del_at')
  if e then return e end
  local i = int(ARGV[1])
  if not i then return fail('INVAL', 'delitem: the index must be an integer') end
  local len = redis.call('LLEN', KEYS[1])
  local j, ie = list_index(i, len, 'delitem')
  if not j then return ie end
  list_remove(KEYS[1], j, len)
  return len - 1
end)

-- ---------------------------------------------------------------------------
-- Lock / RLock as a lease. KEYS: [1] P lock:{NAME} (or rlock:) HASH owner,
-- fence, depth, with PEXPIRE = the lease; [2] ...:seq STRING, the fencing
-- counter (never expires, so tokens only grow); [3] ...:wake LIST, the latch
-- a release sets for one waiter.

-- ARGV: [1] owner  [2] lease_ms >= 1  [3] reentrant '1' | '0'. Returns
-- {1, fence} acquired (or re-entered: depth + 1, the same fence, lease
-- renewed), or {0, pttl} held by another for pttl more ms. A non-reentrant
-- lock acquired again by its owner is INVAL.
register('lock_acquire', NONE, function(KEYS, ARGV)
  local e = need_keys(KEYS, 3, 'lock_acquire')
  if e then return e end
  local owner, lease = ARGV[1], int(ARGV[2])
  if type(owner) ~= 'string' or owner == '' then return fail('INVAL', 'lock: the owner id is empty') end
  if not lease or lease < 1 then return fail('INVAL', 'lock: lease_ms must be an integer >= 1') end
  local o = redis.call('HGET', KEYS[1], 'owner')
  if not o then
    local fence = redis.call('INCR', KEYS[2])
    redis.call('HSET', KEYS[1], 'owner', owner, 'fence', fence, 'depth', 1)
    redis.call('PEXPIRE', KEYS[1], lease)
    return {1, fence}
  end
  if o == owner then
    if ARGV[3] ~= '1' then return fail('INVAL', 'lock already held by this client (not recursive)') end
    redis.call('HINCRBY', KEYS[1], 'depth', 1)
    redis.call('PEXPIRE', KEYS[1], lease)
    return {1, tonumber(redis.call('HGET', KEYS[1], 'fence'))}
  end
  redis.call('DEL', KEYS[3])                    -- held: any wake token is stale
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl < 1 then pttl = 1 end
  return {0, pttl}
end)

-- ARGV: [1] owner. Returns the depth left (0 = released: one waiter is
-- woken through the wake latch). PERM when the owner does not hold it (never
-- did, or its lease expired).
register('lock_release', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 3, 'lock_release')
  if e then return e end
  if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
    return fail('PERM', 'release of a lock not held (or whose lease expired)')
  end
  local d = redis.call('HINCRBY', KEYS[1], 'depth', -1)
  if d > 0 then return d end
  redis.call('DEL', KEYS[1])
  latch_set(KEYS[3])
  return 0
end)

-- KEYS[1] (the lock hash); ARGV: [1] owner  [2] lease_ms >= 1. Renews the
-- lease. Returns 1, or 0 when the owner no longer holds the lock.
register('lease_renew', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'lease_renew')
  if e then return e end
  local lease = int(ARGV[2])
  if not lease or lease < 1 then return fail('INVAL', 'lease_renew: lease_ms must be an integer >= 1') end
  if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
  return redis.call('PEXPIRE', KEYS[1], lease)
end)

-- KEYS[1] (the lock hash); ARGV: [1] owner. The fencing token of the
-- owner's current hold (FCALL_RO); PERM when it does not hold the lock.
register('lock_fence', RO, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'lock_fence')
  if e then return e end
  local h = redis.call('HMGET', KEYS[1], 'owner', 'fence')
  if h[1] ~= ARGV[1] or not h[2] then
    return fail('PERM', 'the lock is not held by this client (or its lease expired)')
  end
  return tonumber(h[2])
end)

-- ---------------------------------------------------------------------------
-- Semaphore / BoundedSemaphore as leases. KEYS: [1] P sem:{NAME} ZSET
-- holder -> lease end (server ms); [2] ...:meta HASH value (permits: initial
-- plus bare releases), initial, bounded ('1'/'0'); [3] ...:seq STRING,
-- fencing counter; [4] ...:wake LIST latch. The counter Python would show
-- is value minus the live holders. A holder id names one acquisition (the
-- client makes it unique per acquire); an expired lease frees its permit.

-- The semaphore's meta, created with `initial` / `bounded` if missing (a
-- write), as value, initial, bounded; or nil and the error reply.
local function sem_meta(KEYS, initial, bounded)
  local m = redis.call('HMGET', KEYS[2], 'value', 'initial', 'bounded')
  if m[1] then return tonumber(m[1]), tonumber(m[2]), m[3] == '1' end
  local init = int(initial)
  if not init or init < 0 then return nil, fail('INVAL', 'semaphore: initial value must be an integer >= 0') end
  if bounded ~= '1' and bounded ~= '0' then return nil, fail('INVAL', "semaphore: bounded must be '1' or '0'") end
  redis.call('HSET', KEYS[2], 'value', init, 'initial', init, 'bounded', bounded)
  return init, init, bounded == '1'
end

-- ARGV: [1] holder  [2] lease_ms >= 1  [3] initial value  [4] bounded
-- '1' | '0' (both used only when the semaphore is created). Returns
-- {1, fence} acquired, or {0, ms}: ms until the earliest lease ends, or -1
-- when no lease can end (wait for a release on the wake latch).
register('sem_acquire', NONE, function(KEYS, ARGV)
  local e = need_keys(KEYS, 4, 'sem_acquire')
  if e then return e end
  local holder, lease = ARGV[1], int(ARGV[2])
  if type(holder) ~= 'string' or holder == '' then return fail('INVAL', 'semaphore: the holder id is empty') end
  if not lease or lease < 1 then return fail('INVAL', 'semaphore: lease_ms must be an integer >= 1') end
  local value, me = sem_meta(KEYS, ARGV[3], ARGV[4])
  if not value then return me end
  local now = now_ms()
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZSCORE', KEYS[1], holder) then
    return fail('INVAL', 'semaphore: this holder id already holds a permit (ids are per acquisition)')
  end
  local held = redis.call('ZCARD', KEYS[1])
  if held < value then
    redis.call('ZADD', KEYS[1], now + lease, holder)
    if held + 1 < value then latch_set(KEYS[4]) end   -- permits left: chain the next waiter
    return {1, redis.call('INCR', KEYS[3])}
  end
  redis.call('DEL', KEYS[4])                       -- none left: any token is stale
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if not first[2] then return {0, -1} end
  local wait = tonumber(first[2]) - now
  if wait < 1 then wait = 1 end
  return {0, wait}
end)

-- ARGV: [1] holder ('' = a bare release, as Python's release() by anyone)
-- [2] n >= 1 (default 1: the holder's permit, plus n - 1 bare)  [3] initial
-- [4] bounded (used only when the semaphore is created). Wakes one waiter.
-- Returns 1. PERM when the holder's lease is gone (ended or never taken);
-- INVAL when a bounded semaphore would exceed its initial value (nothing
-- changes).
register('sem_release', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 4, 'sem_release')
  if e then return e end
  local holder, n = ARGV[1] or '', 1
  if ARGV[2] and ARGV[2] ~= '' then n = int(ARGV[2]) end
  if not n or n < 1 then return fail('INVAL', 'semaphore: release count must be an integer >= 1') end
  local value, initial, bounded = sem_meta(KEYS, ARGV[3] or '0', ARGV[4] or '0')
  if not value then return initial end
  local now = now_ms()
  local bare = n
  if holder ~= '' then
    local s = redis.call('ZSCORE', KEYS[1], holder)
    if not s or tonumber(s) <= now then
      if s then redis.call('ZREM', KEYS[1], holder) end
      return fail('PERM', 'release of a semaphore permit not held (or whose lease expired)')
    end
    bare = n - 1
  end
  if bounded then
    local live = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
    local after = value + bare - live + (n - bare)
    if after > initial then return fail('INVAL', 'semaphore released too many times') end
  end
  if holder ~= '' then redis.call('ZREM', KEYS[1], holder) end
  if bare > 0 then redis.call('HINCRBY', KEYS[2], 'value', bare) end
  latch_set(KEYS[4])
  return 1
end)

-- KEYS[1] (the holders ZSET); ARGV: [1] holder  [2] lease_ms >= 1. Renews
-- the holder's lease: 1, or 0 when it was lost (ended: the permit is freed).
register('sem_renew', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'sem_renew')
  if e then return e end
  local lease = int(ARGV[2])
  if not lease or lease < 1 then return fail('INVAL', 'sem_renew: lease_ms must be an integer >= 1') end
  local now = now_ms()
  local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not s then return 0 end
  if tonumber(s) <= now then
    redis.call('ZREM', KEYS[1], ARGV[1])
    return 0
  end
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  return 1
end)

-- KEYS[1..2] (holders, meta); ARGV: [1] initial (the answer when the
-- semaphore was never used). The value Python's get_value() gives: value
-- minus the live holders (FCALL_RO).
register('sem_value', RO, function(KEYS, ARGV)
  local e = need_keys(KEYS, 2, 'sem_value')
  if e then return e end
  local v = redis.call('HGET', KEYS[2], 'value')
  if not v then return int(ARGV[1] or '0') or 0 end
  local live = redis.call('ZCOUNT', KEYS[1], '(' .. now_ms(), '+inf')
  return tonumber(v) - live
end)

-- ---------------------------------------------------------------------------
-- Event. KEYS: [1] P ev:{NAME} STRING flag (exists = set; is_set is EXISTS),
-- [2] ...:wake LIST latch (waiters BLMPOP it, then ev_rearm).

-- No ARGV. Sets the flag and the latch (wakes every waiter in turn). Returns 1.
register('ev_set', NONE, function(KEYS, ARGV)
  local e = need_keys(KEYS, 2, 'ev_set')
  if e then return e end
  redis.call('SET', KEYS[1], '1')
  latch_set(KEYS[2])
  return 1
end)

-- No ARGV. Clears the flag and the latch. Returns 1.
register('ev_clear', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 2, 'ev_clear')
  if e then return e end
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end)

-- No ARGV. A waiter woken by the latch puts the token back while the event
-- is set. Returns 1 when set (the waiter returns true), else 0 (it waits
-- again).
register('ev_rearm', DRAIN, function(KEYS, ARGV)
  local e = need_keys(KEYS, 2, 'ev_rearm')
  if e then return e end
  if redis.call('EXISTS', KEYS[1]) == 1 then
    latch_set(KEYS[2])
    return 1
  end
  return 0
end)

-- ---------------------------------------------------------------------------
-- No keys, no ARGV (FCALL_RO). The library's revision within layout 1: a
-- client loads its own copy (FUNCTION LOAD REPLACE) only when the server's
-- is older, so two mpipc versions sharing layout 1 agree.
register('revision', RO, function(KEYS, ARGV)
  return REVISION
end)

-- ---------------------------------------------------------------------------
-- manager functions (helper manager): list slices. KEYS[1] = P l:{NAME}.

-- A Python slice bound of a list of `len`: '' or absent = `default`;
-- negative counts from the end; clamped to 0 ..= len. nil if not an integer.
local function slice_bound(v, len, default)
  if v == nil or v == '' then return default end
  local i = int(v)
  if not i then return nil end
  if i < 0 then i = i + len end
  if i < 0 then return 0 end
  if i > len then return len end
  return i
end

-- Appends t[from..to] to the list `key`, 1000 at a time (unpack is bounded
-- by Lua's C stack).
local function push_range(key, t, from, to)
  local i = from
  while i <= to do
    local j = math.min(i + 999, to)
    redis.call('RPUSH', key, unpack(t, i, j))
    i = j + 1
  end
end

-- ARGV: [1] start  [2] stop (Python slice bounds, step 1; '' = the default,
-- 0 and len)  [3...] the elements that replace l[start:stop] (none: del
-- l[start:stop]). Python's slice assignment. Returns the new length.
register('l_splice', NONE, function(KEYS, ARGV)
  local e = need_keys(KEYS, 1, 'l_splice')
  if e then return e end
  local len = redis.call('LLEN', KEYS[1])
  local a, b = slice_bound(ARGV[1], len, 0), slice_bound(ARGV[2], len, len)
  if not a or not b then return fail('INVAL', 'setslice: the bounds must be integers (or empty for the default)') end
  if b < a then b = a end
  local n = math.max(#ARGV - 2, 0)
  if a == b and n == 0 then return len end
  local tail = {}
  if b < len then tail = redis.call('LRANGE', KEYS[1], b, -1) end
  if a == 0 then redis.call('DEL', KEYS[1]) else redis.call('LTRIM', KEYS[1], 0, a - 1) end
  push_range(KEYS[1], ARGV, 3, #ARGV)
  push_range(KEYS[1], tail, 1, #tail)
  return a + n + #tail
end)
