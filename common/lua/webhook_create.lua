-- webhook_create.lua: create a webhook with its first signing key and
-- its company index entry, unless the company holds ARGV[6] webhooks
-- already (api/webhooks.c, POST /v1/webhooks), and bump the change
-- counters the dispatchers' webhook cache relies on in the same step.
--
-- KEYS[1]  wh:webhook:<sid>             KEYS[2]  wh:company:<sid>:webhooks
-- KEYS[3]  wh:webhook:<sid>:keys        KEYS[4]  wh:webhooks:disabled
-- KEYS[5]  wh:company:<company_sid>:version
-- KEYS[6]  wh:webhooks:version
-- ARGV[1]  the webhook's record         ARGV[2]  created_at (ms)
-- ARGV[3]  webhook sid                  ARGV[4]  the first key's sid
-- ARGV[5]  the first key's record       ARGV[6]  the most webhooks a
--          company holds
-- ARGV[7]  '1' if created enabled, '0' if not (member of KEYS[4])
--
-- Returns 1 when created, 0 when the company is at its limit.

if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
if ARGV[7] == '0' then
  redis.call('SADD', KEYS[4], ARGV[3])
end
redis.call('INCR', KEYS[5])
redis.call('INCR', KEYS[6])
return 1
