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
--
-- The members due are the lowest ranks of the zset (it is ordered by
-- score), so they leave it in one ZREMRANGEBYRANK rather than a ZREM
-- each: in a storm of 100 000 due together, a ZREM (a skiplist search,
-- and the member passed back into Redis) cost about as much as the XADD.

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],
  'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'task', m)
end
if #due > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #due - 1)
end
return #due
