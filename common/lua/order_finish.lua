-- order_finish.lua: the head event E of (W, K) is finished, or its
-- attempt is over for now (docs/ordering.md).
--
-- Below {0} stands for {p}, the partition of E's company: all the keys
-- are in that slot.
-- KEYS[1]  wh:{0}:order:<W>:<K>         KEYS[2]  wh:{0}:order:<W>:<K>:parked
-- KEYS[3]  wh:{0}:retry                KEYS[4]  wh:{0}:events
-- ARGV[1]  E's entry id                 ARGV[2]  the caller's lease token
-- ARGV[3]  'done': delivered or dead-lettered; the next parked event (the
--          earliest) is handed on (below).
--          'yield': a retry of E is scheduled; E stays the head (later
--          events of K keep waiting) but the lease is given up.
-- ARGV[4]  ms to keep the state once nothing waits (to drop duplicates)
-- ARGV[5]  the lease length in ms
-- ARGV[6]  a lease token of the caller's for the next event, or '': the
--          next event then goes into wh:{0}:retry due now instead
-- ARGV[7]  the consumer group         ARGV[8]  ms to wait before asking
--          again when an earlier event of K is still being read
-- ARGV[9]  E's company_sid              ARGV[10] K
-- ARGV[11] optional: now in ms instead of Redis TIME (tests only)
--
-- On 'done' with a token, unless an event of K between E and N is still
-- in a reader's hands (then N goes into wh:{0}:retry after the wait, to
-- be asked about by order_start.lua), the next event N becomes the head under that
-- token and its task comes back to the caller, which delivers it at once
-- and finishes it as any head. N's parked member stays (the durable copy)
-- and the same task is put in wh:{0}:retry due when the lease would lapse
-- (the guard): if the caller dies, the guard comes due, and whoever takes
-- it asks order_start.lua, which finds the lease lapsed and starts N. N's
-- own finish (done or yield) removes both.
--
-- Returns {'next', N's id, N's task, the token} (handed to the caller), 'next' (put
-- in wh:{0}:retry), 'idle' (none waits), 'yielded', or 'stale' when E is
-- not the caller's head (its lease expired and another reader took E
-- over, or E was finished already): nothing was changed.

local state, parked, retry, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, token, mode, keep_ms = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local lease_ms, next_token = tonumber(ARGV[5]), ARGV[6]
local group, wait_ms, company, okey = ARGV[7], tonumber(ARGV[8]), ARGV[9],
  ARGV[10]

local function now_ms()
  if ARGV[11] ~= nil and ARGV[11] ~= '' then
    return tonumber(ARGV[11])
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The id in order_start.lua's sortable form (parked members start with
-- it), or nil.
local function sortable(x)
  local ms, seq = string.match(x, '^(%d+)%-(%d+)$')
  if ms == nil or #ms > 20 or #seq > 20 then
    return nil
  end
  return string.rep('0', 20 - #ms) .. ms .. '-' ..
    string.rep('0', 20 - #seq) .. seq
end

-- Is an event of K with an entry id after `from` and before `to` in a
-- reader's hands, not brought to order_start.lua yet? The same check as
-- order_start.lua's (which says why it is enough): at most 1 000 pending
-- entries looked at, else it answers yes.
local function held_between(from, to)
  local pages, start = 0, '(' .. from
  while true do
    local pend = redis.call('XPENDING', events, group, start, '(' .. to, 100)
    for _, p in ipairs(pend) do
      local e = redis.call('XRANGE', events, p[1], p[1])[1]
      if e ~= nil then
        local f, c, k = e[2], nil, nil
        for i = 1, #f, 2 do
          if f[i] == 'company_sid' then
            c = f[i + 1]
          elseif f[i] == 'ordering_key' then
            k = f[i + 1]
          end
        end
        if c == company and k == okey then
          return true
        end
      end
    end
    pages = pages + 1
    if #pend < 100 then
      return false
    end
    if pages == 10 then
      return true
    end
    start = '(' .. pend[#pend][1]
  end
end

if (mode ~= 'done' and mode ~= 'yield') or keep_ms == nil or
    keep_ms <= 0 or lease_ms == nil or lease_ms <= 0 or
    next_token == nil or wait_ms == nil or wait_ms < 0 or okey == nil or
    events == nil then
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
local key = sortable(id)
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
if held_between(id, nid) then
  redis.call('ZADD', retry, now + wait_ms, task)
  return 'next'
end
redis.call('HSET', state, 'head', nid, 'owner', next_token, 'lease_until',
  now + lease_ms)
redis.call('ZADD', retry, now + lease_ms + 1, task)
return {'next', nid, task, next_token}
