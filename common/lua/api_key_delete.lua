-- api_key_delete.lua: remove an API key's record and its index entries
-- in one step (api/api_keys.c, DELETE /v1/api-keys/{key_id}).
--
-- KEYS[1]  wh:apikey:<key_id>           KEYS[2]  wh:apikeys (all keys)
-- KEYS[3]  wh:company:<sid>:apikeys, absent for an admin key
-- ARGV[1]  the key id
--
-- Returns 1.

redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if KEYS[3] then
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return 1
