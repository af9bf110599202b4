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
