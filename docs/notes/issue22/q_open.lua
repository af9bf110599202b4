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
