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
