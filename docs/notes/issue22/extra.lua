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
