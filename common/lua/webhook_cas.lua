-- webhook_cas.lua: replace a webhook's record only if it is still the
-- one read (compare-and-set; no WATCH on connections shared by many
-- requests), and bump the change counters the dispatchers' cache of
-- webhooks relies on (dispatcher/hookcache.c) in the same step. Used by
-- PATCH /v1/webhooks/{sid} and by a dispatcher disabling a webhook whose
-- endpoint kept failing.
--
-- KEYS[1]  wh:webhook:<sid>             KEYS[2]  wh:webhook:<sid>:health
-- KEYS[3]  wh:webhooks:disabled (set of the disabled webhooks' sids)
-- KEYS[4]  wh:company:<company_sid>:version
-- KEYS[5]  wh:webhooks:version
-- ARGV[1]  the record as read           ARGV[2]  the new record
-- ARGV[3]  '1' when the webhook is being re-enabled: its failing streak
--          starts over (else a long-gone failure would disable it again
--          at the next failed attempt)
-- ARGV[4]  the webhook's sid            ARGV[5]  '1' if the new record is
--          enabled, '0' if not (its membership of KEYS[3])
--
-- Returns 1 when written, 0 when the record had changed (read it again).

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[2], 'consecutive_failures', 0)
  redis.call('HDEL', KEYS[2], 'failing_since')
end
if ARGV[5] == '1' then
  redis.call('SREM', KEYS[3], ARGV[4])
else
  redis.call('SADD', KEYS[3], ARGV[4])
end
redis.call('INCR', KEYS[4])
redis.call('INCR', KEYS[5])
return 1
