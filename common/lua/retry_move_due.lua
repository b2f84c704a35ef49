-- retry_move_due.lua: move the retries that are due from the retry
-- schedule to the retries stream the dispatchers read
-- (dispatcher/upkeep.c, every 100 ms). Each member is added to the
-- stream and removed from the zset in the same atomic script, so any
-- number of dispatchers may run it at once and a task is moved exactly
-- once. Touches only keys of the {0} slot.
--
-- KEYS[1]  wh:{0}:retry (zset, score = due ms)
-- KEYS[2]  wh:{0}:retries (stream)
-- ARGV[1]  now (ms)                     ARGV[2]  the most to move
--
-- Returns the number moved.

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],
  'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'task', m)
  redis.call('ZREM', KEYS[1], m)
end
return #due
