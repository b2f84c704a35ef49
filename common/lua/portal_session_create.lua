-- portal_session_create.lua: record a delivery portal session that
-- expires with it (api/portal_sessions.c, POST /v1/portal-sessions), in
-- one step, so a session never lives without its expiry.
--
-- KEYS[1]  wh:portal:<sid>
-- ARGV[1]  SHA-256 of the token's secret (hex)
-- ARGV[2]  company sid                  ARGV[3]  '1' read-only, '0' not
-- ARGV[4]  expires_at (ms)              ARGV[5]  the creating API key id
--
-- Returns 1.

redis.call('HSET', KEYS[1], 'secret_sha256', ARGV[1], 'company_sid',
  ARGV[2], 'read_only', ARGV[3], 'expires_at', ARGV[4], 'created_by',
  ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
