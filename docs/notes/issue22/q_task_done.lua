-- ARGV[1] = how many tasks are done (>= 1). Returns unfinished after.
local m = meta()
if not m then return nf() end
local n = tonumber(ARGV[1])
if m.unfinished < n then return redis.error_reply('MPIPC_INVAL task_done() called too many times') end
local u = redis.call('HINCRBY', META, 'unfinished', -n)
if u == 0 then latch_set(DONE) end
return u
