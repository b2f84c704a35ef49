-- webhook_delete.lua: delete a webhook with everything kept for it
-- (api/webhooks.c, DELETE /v1/webhooks/{sid}), and bump the change
-- counters the dispatchers' webhook cache relies on in the same step.
--
-- KEYS[1]  wh:webhook:<sid>             KEYS[2]  wh:webhook:<sid>:keys
-- KEYS[3]  wh:attempts:<sid>             KEYS[4]  wh:webhook:<sid>:health
-- KEYS[5]  wh:webhook:<sid>:dead        KEYS[6]  wh:webhook:<sid>:dead_ids
-- KEYS[7]  wh:company:<sid>:webhooks    KEYS[8]  wh:webhooks:disabled
-- KEYS[9]  wh:company:<company_sid>:version
-- KEYS[10] wh:webhooks:version
-- ARGV[1]  webhook sid
--
-- Returns 1.

redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('SREM', KEYS[8], ARGV[1])
redis.call('INCR', KEYS[9])
redis.call('INCR', KEYS[10])
return 1
