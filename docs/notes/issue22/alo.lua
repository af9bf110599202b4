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
