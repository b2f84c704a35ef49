-- order_finish.lua: the head event E of (W, K) is finished, or its
-- attempt is over for now (docs/ordering.md).
--
-- Below {0} stands for {p}, the partition of E's company: all the keys
-- are in that slot.
-- KEYS[1]  wh:{0}:order:<W>:<K>         KEYS[2]  wh:{0}:order:<W>:<K>:parked
-- KEYS[3]  wh:{0}:retry
-- KEYS[4]  optional: wh:{0}:retries, where the next event then goes at
--          once (a retries entry, field task) instead of into KEYS[3] due
--          now: it does not wait for the next move of due retries
-- ARGV[1]  E's entry id                 ARGV[2]  the caller's lease token
-- ARGV[3]  'done': delivered or dead-lettered; the next parked event (the
--          earliest) is handed back through wh:{0}:retry, due now.
--          'yield': a retry of E is scheduled; E stays the head (later
--          events of K keep waiting) but the lease is given up.
-- ARGV[4]  ms to keep the state once nothing waits (to drop duplicates)
-- ARGV[5]  optional: now in ms instead of Redis TIME (tests only)
--
-- Returns 'next' (an event was handed back), 'idle' (none waits),
-- 'yielded', or 'stale' when E is not the caller's head (its lease
-- expired and another reader took E over, or E was finished already):
-- nothing was changed.

local state, parked, retry = KEYS[1], KEYS[2], KEYS[3]
local id, token, mode, keep_ms = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

local function now_ms()
  if ARGV[5] ~= nil and ARGV[5] ~= '' then
    return tonumber(ARGV[5])
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

if (mode ~= 'done' and mode ~= 'yield') or keep_ms == nil or keep_ms <= 0 then
  return redis.error_reply('ERR order_finish: bad arguments')
end
local h = redis.call('HMGET', state, 'head', 'owner', 'lease_until')
local now = now_ms()
if h[1] ~= id then
  return 'stale'
end
-- A lease that lapsed and was not taken over still lets its holder
-- finish: nobody else delivered E meanwhile.
if h[2] ~= token then
  return 'stale'
end
if mode == 'yield' then
  redis.call('HDEL', state, 'owner', 'lease_until')
  return 'yielded'
end
redis.call('HDEL', state, 'head', 'owner', 'lease_until')
redis.call('HSET', state, 'last', id)
-- A copy of E (or of anything before it) parked meanwhile is done too.
-- (Members start with the id in order_start.lua's sortable form.)
local ms, seq = string.match(id, '^(%d+)%-(%d+)$')
if ms ~= nil and #ms <= 20 and #seq <= 20 then
  redis.call('ZREMRANGEBYLEX', parked, '-', '(' .. string.rep('0', 20 - #ms)
    .. ms .. '-' .. string.rep('0', 20 - #seq) .. seq .. '!')
end
local first = redis.call('ZRANGE', parked, 0, 0)[1]
if first == nil then
  redis.call('PEXPIRE', state, keep_ms)
  return 'idle'
end
-- It stays parked (and first) until it starts: whoever asks for a later
-- event of K meanwhile parks behind it.
if KEYS[4] then
  redis.call('XADD', KEYS[4], '*', 'task', string.sub(first, 43))
else
  redis.call('ZADD', retry, now, string.sub(first, 43))
end
return 'next'
