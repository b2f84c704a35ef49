-- signing_key_cas.lua: replace one signing key's record only if it is
-- still the one read (compare-and-set; no WATCH on connections shared by
-- many requests), then INCR every further key given. Used by PATCH
-- .../signing-keys/{key_sid} (api/signing_keys.c), which passes the two
-- change counters the dispatchers' webhook cache relies on, and by the
-- launcher's `reencrypt-secrets` (api/launcher/reencrypt.c), which
-- passes none: the key it seals again is the same key.
--
-- KEYS[1]  wh:webhook:<sid>:keys
-- KEYS[2..] counters to bump: wh:company:<company_sid>:version,
--          wh:webhooks:version (or none)
-- ARGV[1]  key sid                      ARGV[2]  the record as read
-- ARGV[3]  the new record
--
-- Returns 1 when written, 0 when the record had changed (read it again).

if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
for i = 2, #KEYS do
  redis.call('INCR', KEYS[i])
end
return 1
