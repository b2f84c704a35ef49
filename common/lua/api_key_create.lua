-- api_key_create.lua: record a new API key with its index entries in one
-- step (api/api_keys.c, POST /v1/api-keys), so a key is never listed
-- without its record nor usable without being listed.
--
-- KEYS[1]  wh:apikey:<key_id>           KEYS[2]  wh:apikeys (all keys)
-- KEYS[3]  wh:company:<sid>:apikeys, absent for an admin key
-- ARGV[1]  SHA-256 of the secret (hex)  ARGV[2]  company sid ('*': admin)
-- ARGV[3]  label                        ARGV[4]  created_at (ms)
-- ARGV[5]  the key id
--
-- Returns 1.

redis.call('HSET', KEYS[1], 'secret_sha256', ARGV[1], 'company_sid',
  ARGV[2], 'label', ARGV[3], 'created_at', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
if KEYS[3] then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
end
return 1
