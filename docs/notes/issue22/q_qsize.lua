local m = meta()
if not m then return nf() end
return {redis.call('LLEN', ITEMS), m.unfinished, m.shutdown and 1 or 0, m.maxsize}
