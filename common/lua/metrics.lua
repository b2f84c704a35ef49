-- metrics.lua: the instance registry behind the api's GET /metrics.
--
-- Every api worker and every dispatcher keeps its own figures and
-- publishes them here each second ("publish"): one hash per instance,
-- <prefix><id>, and its last-seen time in the registry. The api sums the
-- live ones ("read"). A field name is "c" or "g", then the series as the
-- exposition format writes it (name{labels}); values are integers.
--
-- An instance not seen for `stale` ms is gone. Its cumulative fields
-- ("c": counters, histogram buckets, counts and sums) are added to the
-- retired totals and its hash is marked folded, so that a total never
-- goes down when a process exits (Prometheus would take the drop for a
-- counter reset and count everything again); its gauges ("g") simply
-- leave with it. An instance that publishes again after being folded
-- (it was only paused) first takes its fields back out of the retired
-- totals. "leave" is a last publish that folds at once (a clean exit).
-- A folded hash is kept `ttl` seconds, long enough for that.
--
-- KEYS[1] registry (zset: id -> last seen ms), KEYS[2] retired totals
-- (hash), KEYS[3] this instance's hash (for "read": the registry again).
-- ARGV: mode ("publish", "leave", "read"), stale (ms), ttl (s), the
-- instance hash prefix, this instance's id, then field, value pairs.
-- Times are Redis' own clock, so the hosts' clocks need not agree.
-- "read" answers the sums as a flat array field, value, ..., with the
-- live instances counted as gwebhooks_api_workers (ids "api:...") and
-- gwebhooks_dispatchers (ids "dispatcher:...").
--
-- The hashes of other instances are found through the registry, not
-- passed as KEYS: this runs on one Redis (with Sentinel), never across
-- the slots of a cluster.
local registry, retired = KEYS[1], KEYS[2]
local mode, stale, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local prefix, id = ARGV[4], ARGV[5]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Add (sign 1) or take back (sign -1) a hash's cumulative fields. Zeros
-- are skipped: HINCRBY refuses "-0".
local function move(key, sign)
  local kv = redis.call('HGETALL', key)
  for i = 1, #kv, 2 do
    local v = tonumber(kv[i + 1])
    if string.byte(kv[i], 1) == 99 and v ~= nil and v ~= 0 then -- "c"
      redis.call('HINCRBY', retired, kv[i], sign * v)
    end
  end
end

local function fold(member)
  local key = prefix .. member
  if redis.call('EXISTS', key) == 1 and
      redis.call('HEXISTS', key, '!folded') == 0 then
    move(key, 1)
    redis.call('HSET', key, '!folded', '1')
  end
  redis.call('ZREM', registry, member)
end

local function fold_stale()
  local gone = redis.call('ZRANGEBYSCORE', registry, '-inf',
      '(' .. (now - stale))
  for _, m in ipairs(gone) do
    fold(m)
  end
end

if mode == 'read' then
  fold_stale()
  local sums, order = {}, {}
  local function add(kv)
    for i = 1, #kv, 2 do
      local f = kv[i]
      if f ~= '!folded' then
        if sums[f] == nil then
          sums[f] = 0
          order[#order + 1] = f
        end
        sums[f] = sums[f] + tonumber(kv[i + 1])
      end
    end
  end
  add(redis.call('HGETALL', retired))
  local napi, ndisp = 0, 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', registry, now - stale,
      '+inf')) do
    add(redis.call('HGETALL', prefix .. m))
    if string.sub(m, 1, 4) == 'api:' then
      napi = napi + 1
    elseif string.sub(m, 1, 11) == 'dispatcher:' then
      ndisp = ndisp + 1
    end
  end
  local out = { 'gwebhooks_api_workers', napi,
      'gwebhooks_dispatchers', ndisp }
  for _, f in ipairs(order) do
    out[#out + 1] = f
    out[#out + 1] = sums[f]
  end
  return out
end

local me = KEYS[3]
if redis.call('HEXISTS', me, '!folded') == 1 then
  move(me, -1)
end
redis.call('DEL', me)
local n = #ARGV
for i = 6, n, 200 do
  redis.call('HSET', me, unpack(ARGV, i, math.min(i + 199, n)))
end
if mode == 'leave' then
  fold(id)
else
  redis.call('ZADD', registry, now, id)
end
redis.call('EXPIRE', me, ttl)
fold_stale()
return 1
