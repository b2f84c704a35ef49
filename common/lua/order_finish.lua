-- order_finish.lua: the head event E of (W, K) is finished, or its
-- attempt is over for now (docs/ordering.md).
--
-- Below {0} stands for {p}, the partition of E's company: all the keys
-- are in that slot.
-- KEYS[1]  wh:{0}:order:<W>:<K>         KEYS[2]  wh:{0}:order:<W>:<K>:parked
-- KEYS[3]  wh:{0}:retry                KEYS[4]  wh:{0}:events
-- KEYS[5]  optional, on one Redis only (another slot in a cluster):
--          wh:webhooks:version, the webhooks' change counter
-- ARGV[1]  E's entry id                 ARGV[2]  the caller's lease token
-- ARGV[3]  'done': delivered or dead-lettered; the next parked event (the
--          earliest) is handed on (below).
--          'yield': a retry of E is scheduled; E stays the head (later
--          events of K keep waiting) but the lease is given up.
-- ARGV[4]  ms to keep the state once nothing waits (to drop duplicates)
-- ARGV[5]  the lease length in ms
-- ARGV[6]  a lease token of the caller's for the next event, or '': the
--          next event then goes into wh:{0}:retry due now instead
-- ARGV[7]  the consumer group
-- ARGV[8]  optional: now in ms instead of Redis TIME (tests only)
--
-- On 'done' with a token, unless an entry of the events stream between E
-- and N is still in a reader's hands (then N goes into wh:{0}:retry due
-- now, and order_start.lua, asked about it, looks at that entry's key),
-- the next event N becomes the head under that
-- token and its task comes back to the caller, which delivers it at once
-- and finishes it as any head. N's parked member stays (the durable copy)
-- and the same task is put in wh:{0}:retry due when the lease would lapse
-- (the guard): if the caller dies, the guard comes due, and whoever takes
-- it asks order_start.lua, which finds the lease lapsed and starts N. N's
-- own finish (done or yield) removes both.
--
-- Returns {'next', N's id, N's task, the token} (handed to the caller;
-- with KEYS[5] the change counter as a fifth element, read after N was
-- published, so the caller fans N out with every webhook change made
-- before it without a read of its own), 'next' (put
-- in wh:{0}:retry), 'idle' (none waits), 'yielded', or 'stale' when E is
-- not the caller's head (its lease expired and another reader took E
-- over, or E was finished already): nothing was changed.

local state, parked, retry, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, token, mode, keep_ms = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local lease_ms, next_token = tonumber(ARGV[5]), ARGV[6]
local group = ARGV[7]

local function now_ms()
  if ARGV[8] ~= nil and ARGV[8] ~= '' then
    return tonumber(ARGV[8])
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

if (mode ~= 'done' and mode ~= 'yield') or keep_ms == nil or
    keep_ms <= 0 or lease_ms == nil or lease_ms <= 0 or
    next_token == nil or group == nil or events == nil then
  return redis.error_reply('ERR order_finish: bad arguments')
end
local h = redis.call('HMGET', state, 'head', 'owner', 'lease_until')
if h[1] ~= id then
  return 'stale'
end
-- A lease that lapsed and was not taken over still lets its holder
-- finish: nobody else delivered E meanwhile.
if h[2] ~= token then
  return 'stale'
end
-- E's id in order_start.lua's sortable form, with which parked members
-- start (E is the head, so order_start.lua took its id as well formed).
local ms, seq = string.match(id, '^(%d+)%-(%d+)$')
local key = ms and (string.rep('0', 20 - #ms) .. ms .. '-' ..
  string.rep('0', 20 - #seq) .. seq)
local now = now_ms()
-- E was handed on by the finish before it: its parked copy and the guard
-- of the same task go (a started E has neither).
if key ~= nil then
  local mine = redis.call('ZRANGEBYLEX', parked, '[' .. key .. ' ',
    '(' .. key .. '!', 'LIMIT', 0, 1)[1]
  if mine ~= nil then
    redis.call('ZREM', retry, string.sub(mine, 43))
    redis.call('ZREM', parked, mine)
  end
end
if mode == 'yield' then
  redis.call('HDEL', state, 'owner', 'lease_until')
  return 'yielded'
end
redis.call('HDEL', state, 'head', 'owner', 'lease_until')
redis.call('HSET', state, 'last', id)
-- A copy of anything before E parked meanwhile is done too.
if key ~= nil then
  redis.call('ZREMRANGEBYLEX', parked, '-', '(' .. key .. '!')
end
local first = redis.call('ZRANGE', parked, 0, 0)[1]
if first == nil then
  redis.call('PEXPIRE', state, keep_ms)
  return 'idle'
end
local task = string.sub(first, 43)
if next_token == '' then
  -- It stays parked (and first) until it starts: whoever asks for a
  -- later event of K meanwhile parks behind it.
  redis.call('ZADD', retry, now, task)
  return 'next'
end
-- The sortable id back to the stream's form.
local function plain(digits)
  local s = string.gsub(digits, '^0+', '')
  return s == '' and '0' or s
end
local nid = plain(string.sub(first, 1, 20)) .. '-' ..
  plain(string.sub(first, 22, 41))
-- Every entry between E and N was read (N was), so each is either in a
-- reader's hands or acknowledged, and an acknowledged one of K came to
-- order_start.lua before. One still held may be an event of K that N must
-- not pass: then N takes the slow way, whose order_start.lua looks.
if #redis.call('XPENDING', events, group, '(' .. id, '(' .. nid, 1) > 0 then
  redis.call('ZADD', retry, now, task)
  return 'next'
end
redis.call('HSET', state, 'head', nid, 'owner', next_token, 'lease_until',
  now + lease_ms)
redis.call('ZADD', retry, now + lease_ms + 1, task)
if KEYS[5] ~= nil then
  return {'next', nid, task, next_token, redis.call('GET', KEYS[5]) or '0'}
end
return {'next', nid, task, next_token}
