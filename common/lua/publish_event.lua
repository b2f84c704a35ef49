-- publish_event.lua: put one event on wh:{0}:events at most once per
-- (company_sid, event_sid) within a window: a publisher that retries, or
-- two api workers racing on one event_sid, add one entry between them.
-- Streem's api runs this very file (built into the binaries); any Redis
-- client may load it too (docs/publishing.md, "Straight into Redis").
--
-- KEYS[1]   wh:idem:<company_sid>:<event_sid>, the remembered event_sid
--           (with WH_REDIS_PREFIX in place of "wh:" if one is set; in a
--           Redis Cluster wh:{0}:idem:<company_sid>:<event_sid>)
-- KEYS[2]   wh:{0}:events
-- ARGV[1]   how long event_sid is remembered, in seconds (the api: 86400)
-- ARGV[2..] the entry's fields and values, as for XADD: company_sid,
--           event_type, payload and event_sid are required; ts
--           (milliseconds since the epoch) is added from Redis' clock
--           when missing.
--
-- Returns {1, entry_id, ts} when the event was added, or, when event_sid
-- was already published in the window, {0, ts, event_type, same}: ts and
-- event_type of the first publication, and same = 1 when this one has
-- the same event_type and payload (then it is a harmless repeat), else 0.
--
-- What is remembered is small ("<ts> <event_type> <sha1 of payload>"), so
-- 24 hours of event_sids cost about 200 bytes each, payload size aside.
-- In a Redis Cluster both keys must share a slot: the {0} form of KEYS[1].

local f = {}
for i = 2, #ARGV, 2 do
  f[ARGV[i]] = ARGV[i + 1]
end
for _, name in ipairs({'company_sid', 'event_type', 'payload', 'event_sid'}) do
  if f[name] == nil then
    return redis.error_reply('ERR publish_event: field ' .. name .. ' is missing')
  end
end
local suffix = ':' .. f.company_sid .. ':' .. f.event_sid
if string.sub(KEYS[1], -#suffix) ~= suffix then
  return redis.error_reply('ERR publish_event: KEYS[1] must end with :<company_sid>:<event_sid>')
end
local ttl = tonumber(ARGV[1])
if ttl == nil or ttl < 1 then
  return redis.error_reply('ERR publish_event: ARGV[1] must be a number of seconds')
end

local digest = redis.sha1hex(f.payload)
local seen = redis.call('GET', KEYS[1])
if seen then
  local ts, etype, sha = string.match(seen, '^(%d+) (%S+) (%x+)$')
  if ts == nil then
    ts, etype = '0', ''
  end
  local same = 0
  if etype == f.event_type and sha == digest then
    same = 1
  end
  return {0, ts, etype, same}
end

local args = {KEYS[2], '*'}
for i = 2, #ARGV do
  args[#args + 1] = ARGV[i]
end
if f.ts == nil then
  local t = redis.call('TIME')
  f.ts = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  args[#args + 1] = 'ts'
  args[#args + 1] = f.ts
end
local id = redis.call('XADD', unpack(args))
redis.call('SET', KEYS[1], f.ts .. ' ' .. f.event_type .. ' ' .. digest, 'EX', ttl)
return {1, id, f.ts}
