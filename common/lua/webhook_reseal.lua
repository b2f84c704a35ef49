-- webhook_reseal.lua: replace a webhook's record only if it is still the
-- one read (compare-and-set), keeping its time to live. Used by the
-- launcher's `reencrypt-secrets` (api/launcher/reencrypt.c) to seal a
-- client certificate's key again under the first key of the ring: the
-- webhook itself does not change, so no change counter moves (unlike
-- webhook_cas.lua, which a PATCH and auto-disable use).
--
-- KEYS[1]  wh:webhook:<sid>
-- ARGV[1]  the record as read           ARGV[2]  the new record
--
-- Returns 1 when written, 0 when the record had changed.

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
