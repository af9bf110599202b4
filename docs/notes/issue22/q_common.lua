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
