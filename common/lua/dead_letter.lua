-- dead_letter.lua: keep a delivery that used all its attempts (or was
-- parked because its webhook is disabled) in wh:{p}:dead, and index it
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
-- KEYS[1]  wh:{p}:dead                  KEYS[2]  wh:webhook:<sid>:dead
-- KEYS[3]  wh:webhook:<sid>:dead_ids    KEYS[4]  wh:webhook:<sid>, or none
-- ARGV[1]  MAXLEN (of the stream, and of one webhook's index)
-- ARGV[2]  now (ms)                     ARGV[3]  oldest kept (ms)
-- ARGV[4]  the age cap (ms)             ARGV[5]  the event sid
-- ARGV[6..] the entry's fields and values, as for XADD
--
-- Returns the entry id. A webhook deleted meanwhile (KEYS[4] gone) gets
-- no index. In a Redis Cluster the record is in another slot and is not
-- given: there an index made for a webhook deleted meanwhile is left to
-- expire (docs/design.md, "Redis Cluster"). KEYS[1..3] share the slot
-- of the company's partition.

local dead, idx, ids = KEYS[1], KEYS[2], KEYS[3]
local id = redis.call('XADD', dead, 'MAXLEN', '~', ARGV[1], '*',
  unpack(ARGV, 6))
redis.call('XTRIM', dead, 'MINID', '~', ARGV[3])
if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 0 then
  return id
end
local prev = redis.call('HGET', ids, ARGV[5])
if prev then
  redis.call('XDEL', dead, prev)
end
redis.call('ZADD', idx, ARGV[2], ARGV[5])
redis.call('HSET', ids, ARGV[5], id)
local n = math.max(redis.call('ZCOUNT', idx, '-inf', '(' .. ARGV[3]),
  redis.call('ZCARD', idx) - tonumber(ARGV[1]))
if n > 0 then
  local gone = redis.call('ZRANGE', idx, 0, math.min(n, 100) - 1)
  for _, old in ipairs(redis.call('HMGET', ids, unpack(gone))) do
    if old then
      redis.call('XDEL', dead, old)
    end
  end
  redis.call('ZREM', idx, unpack(gone))
  redis.call('HDEL', ids, unpack(gone))
end
redis.call('PEXPIRE', idx, ARGV[4])
redis.call('PEXPIRE', ids, ARGV[4])
return id
