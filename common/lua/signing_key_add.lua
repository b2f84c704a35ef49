-- signing_key_add.lua: add a signing key to a webhook that exists and has
-- room for one more (api/signing_keys.c, POST .../signing-keys), and bump
-- the change counters the dispatchers' webhook cache relies on
-- (dispatcher/hookcache.c) in the same step.
--
-- KEYS[1]  wh:webhook:<sid>             KEYS[2]  wh:webhook:<sid>:keys
-- KEYS[3]  wh:company:<company_sid>:version
-- KEYS[4]  wh:webhooks:version
-- ARGV[1]  key sid                      ARGV[2]  the key's record
-- ARGV[3]  the most keys a webhook holds
--
-- Returns 1 when added, 0 when the webhook holds ARGV[3] keys already,
-- -1 when the webhook is gone.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[3])
redis.call('INCR', KEYS[4])
return 1
