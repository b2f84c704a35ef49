-- signing_key_delete.lua: remove a signing key unless it is the
-- webhook's last one (api/signing_keys.c, DELETE
-- .../signing-keys/{key_sid}), and bump the change counters the
-- dispatchers' webhook cache relies on in the same step.
--
-- KEYS[1]  wh:webhook:<sid>:keys
-- KEYS[2]  wh:company:<company_sid>:version
-- KEYS[3]  wh:webhooks:version
-- ARGV[1]  key sid
--
-- Returns 1 when removed, 0 when there is no such key, -1 when it is the
-- last one.

if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if redis.call('HLEN', KEYS[1]) <= 1 then
  return -1
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
redis.call('INCR', KEYS[3])
return 1
