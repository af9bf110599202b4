-- A waiter woken by a latch token puts it back (so the next waiter wakes),
-- if the latch's condition still holds. ARGV[1] = which: 'shut', 'done', 'room'.
local m = meta()
if not m then return nf() end
if ARGV[1] == 'shut' then if m.shutdown then latch_set(SHUT) end
elseif ARGV[1] == 'done' then if m.unfinished == 0 then latch_set(DONE) return 1 end return 0
elseif ARGV[1] == 'room' then room_after(m) end
return 1
