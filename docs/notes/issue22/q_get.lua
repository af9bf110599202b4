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
