-- dead_letter.lua: keep a delivery that used all its attempts (or was
-- parked because its webhook is disabled) in wh:{0}:dead, and index it
-- under its webhook, atomically, so that GET .../dead-letters, ~redeliver
-- and ~recover find it without reading the whole stream.
--
-- The stream is capped by count (MAXLEN ~) and by age (MINID ~; the
-- dispatchers also trim it by age periodically, for when none is written).
-- The index is a zset event_sid -> dead_at (ms) and a hash event_sid ->
-- entry id: one dead letter per (webhook, event); a newer one for the
-- same pair (a delivery repeated by the at-least-once machinery) replaces
-- the older, which leaves the stream. The index is capped like the stream
-- (by count and by age, at most 100 members dropped a call, so the work
-- of one call stays small; the members it drops leave the stream too) and
-- expires as a whole once no dead letter came for the age cap. Entries
-- the stream trimmed meanwhile are skipped and dropped by the readers.
--
-- KEYS[1]  wh:{0}:dead                  KEYS[2]  wh:webhook:<sid>
-- KEYS[3]  wh:webhook:<sid>:dead        KEYS[4]  wh:webhook:<sid>:dead_ids
-- ARGV[1]  MAXLEN (of the stream, and of one webhook's index)
-- ARGV[2]  now (ms)                     ARGV[3]  oldest kept (ms)
-- ARGV[4]  the age cap (ms)             ARGV[5]  the event sid
-- ARGV[6..] the entry's fields and values, as for XADD
--
-- Returns the entry id. A webhook deleted meanwhile gets no index.
-- Note for Redis Cluster: KEYS[2..4] are not in the {0} slot.

local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
  unpack(ARGV, 6))
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 0 then
  return id
end
local prev = redis.call('HGET', KEYS[4], ARGV[5])
if prev then
  redis.call('XDEL', KEYS[1], prev)
end
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5])
redis.call('HSET', KEYS[4], ARGV[5], id)
local n = math.max(redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. ARGV[3]),
  redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[1]))
if n > 0 then
  local gone = redis.call('ZRANGE', KEYS[3], 0, math.min(n, 100) - 1)
  for _, old in ipairs(redis.call('HMGET', KEYS[4], unpack(gone))) do
    if old then
      redis.call('XDEL', KEYS[1], old)
    end
  end
  redis.call('ZREM', KEYS[3], unpack(gone))
  redis.call('HDEL', KEYS[4], unpack(gone))
end
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[4], ARGV[4])
return id
