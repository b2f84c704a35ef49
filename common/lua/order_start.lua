-- order_start.lua: may event E, which carries an ordering_key K, be
-- delivered to webhook W now? Deliveries of one (W, K) happen one at a
-- time in publish order, the order of the events stream (docs/ordering.md
-- has the whole design and the crash cases).
--
-- KEYS[1]  wh:{0}:order:<W>:<K>         (hash: head, owner, lease_until,
--          last; the event being delivered, whose lease, until when,
--          and the last event finished)
-- KEYS[2]  wh:{0}:order:<W>:<K>:parked  (zset, all scores 0: members
--          "<sortable id> <task>", the events waiting behind the head)
-- KEYS[3]  wh:{0}:events                KEYS[4]  wh:{0}:retry
-- ARGV[1]  E's entry id in the events stream
-- ARGV[2]  E's task for W (what the dispatcher puts in wh:{0}:retry)
-- ARGV[3]  the caller's lease token     ARGV[4]  lease ms
-- ARGV[5]  E's company_sid              ARGV[6]  K
-- ARGV[7]  the consumer group           ARGV[8]  ms to wait before asking
--          again when an earlier event of K is still being read
-- ARGV[9]  optional: now in ms instead of Redis TIME (tests only)
--
-- Returns
--   'start'  E is the head and the caller holds its lease: deliver it,
--            then call order_finish.lua ('done' or 'yield');
--   'park'   E waits behind the head; order_finish.lua hands it back
--            through wh:{0}:retry. Nothing for the caller to do;
--   'wait'   E cannot start yet (an earlier event of K is still in a
--            reader's hands, or another live lease holds E): parked and
--            its task scheduled in wh:{0}:retry again;
--   'done'   E was finished already (a duplicate): nothing to deliver.
-- After any answer but 'start' the caller may acknowledge E: the task is
-- kept here or in wh:{0}:retry.

local state, parked, events, retry = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, task, token = ARGV[1], ARGV[2], ARGV[3]
local lease_ms, company, okey = tonumber(ARGV[4]), ARGV[5], ARGV[6]
local group, wait_ms = ARGV[7], tonumber(ARGV[8])

-- "1700000000000-3" as 20 + 1 + 20 characters, so that ids sort as
-- strings exactly as the stream sorts them.
local function sortable(x)
  local ms, seq = string.match(x or '', '^(%d+)%-(%d+)$')
  if ms == nil or #ms > 20 or #seq > 20 then
    return nil
  end
  return string.rep('0', 20 - #ms) .. ms .. '-' ..
    string.rep('0', 20 - #seq) .. seq
end

local function now_ms()
  if ARGV[9] ~= nil and ARGV[9] ~= '' then
    return tonumber(ARGV[9])
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local key = sortable(id)
if key == nil or lease_ms == nil or lease_ms <= 0 or wait_ms == nil or
    wait_ms < 0 or okey == nil or okey == '' then
  return redis.error_reply('ERR order_start: bad arguments')
end
local now = now_ms()
local h = redis.call('HMGET', state, 'head', 'owner', 'lease_until', 'last')
-- A field that is not there comes back as false.
local head, owner = h[1] or nil, h[2] or nil
local lease_until, last = tonumber(h[3] or '0'), h[4] or nil

local function park()
  local have = redis.call('ZRANGEBYLEX', parked, '[' .. key .. ' ',
    '(' .. key .. '!', 'LIMIT', 0, 1)
  if #have == 0 then
    redis.call('ZADD', parked, 0, key .. ' ' .. task)
  end
  redis.call('PERSIST', state)
end

-- Come back at `at`; parked meanwhile (unless E is the head already),
-- so that later events of K queue behind it.
local function later(at, is_head)
  if not is_head then
    park()
  end
  redis.call('ZADD', retry, at, task)
  return 'wait'
end

if last ~= nil and key <= sortable(last) then
  return 'done'
end
if head ~= nil then
  if head ~= id then
    park()
    return 'park'
  end
  if owner ~= nil and owner ~= token and lease_until > now then
    -- Another reader holds E: if it dies, this copy takes over.
    return later(lease_until + 1, true)
  end
else
  local first = redis.call('ZRANGE', parked, 0, 0)[1]
  if first ~= nil and string.sub(first, 1, 41) < key then
    -- The first parked event is on its way back through the retries.
    park()
    return 'park'
  end
  -- An earlier event of K that a reader holds but has not brought here
  -- yet (the group hands entries out in order, so every earlier one is
  -- either pending or acknowledged, and acknowledged ones came here).
  local from = last ~= nil and ('(' .. last) or '-'
  local pages = 0
  while true do
    local pend = redis.call('XPENDING', events, group, from, '(' .. id, 100)
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
          return later(now + wait_ms)
        end
      end
    end
    pages = pages + 1
    if #pend < 100 then
      break
    end
    if pages == 10 then
      return later(now + wait_ms)
    end
    from = '(' .. pend[#pend][1]
  end
end

redis.call('HSET', state, 'head', id, 'owner', token, 'lease_until',
  now + lease_ms)
redis.call('PERSIST', state)
redis.call('ZREMRANGEBYLEX', parked, '[' .. key .. ' ', '(' .. key .. '!')
return 'start'
