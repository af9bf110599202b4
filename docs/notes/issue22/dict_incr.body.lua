-- KEYS[1] = dict hash; ARGV[1] = field (canonical CBOR key); ARGV[2] = delta (CBOR integer)
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local new = cbor_incr(cur, ARGV[2])
if type(new) == 'table' then return new end
redis.call('HSET', KEYS[1], ARGV[1], new)
return new
