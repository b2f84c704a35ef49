-- order_start.lua: may event E, which carries an ordering_key K, be
-- delivered to webhook W now? Deliveries of one (W, K) happen one at a
-- time in publish order, the order of the events stream (docs/ordering.md
-- has the whole design and the crash cases). One call asks for several
-- deliveries (those of one read batch), each answered as if asked alone,
-- in the order given (so give them in stream order).
--
-- Below {0} stands for {p}, the partition of the company of every event
-- asked about in one call: all its keys are in that slot.
-- KEYS[1]  wh:{0}:events                KEYS[2]  wh:{0}:retry
-- then for delivery i (1..n):
-- KEYS[1 + 2i]  wh:{0}:order:<W>:<K>    (hash: head, owner, lease_until,
--          last; the event being delivered, whose lease, until when,
--          and the last event finished)
-- KEYS[2 + 2i]  wh:{0}:order:<W>:<K>:parked  (zset, all scores 0:
--          members "<sortable id> <task>", the events waiting behind
--          the head)
-- ARGV[1]  lease ms                     ARGV[2]  the consumer group
-- ARGV[3]  ms to wait before asking again when an earlier event of K is
--          still being read
-- ARGV[4]  now in ms instead of Redis TIME (tests only; '' = TIME)
-- then for delivery i, ARGV[5i .. 5i + 4]:
--          E's entry id in the events stream, E's task for W (what the
--          dispatcher puts in wh:{0}:retry), the caller's lease token
--          (one per delivery), E's company_sid, K
--
-- Returns one answer per delivery, in order (an error for a delivery
-- whose id or key is malformed, alone):
--   'start'  E is the head and the caller holds its lease: deliver it,
--            then call order_finish.lua ('done' or 'yield');
--   'park'   E waits behind the head; order_finish.lua hands it on (to
--            the dispatcher that finished the head, or through
--            wh:{0}:retry). Nothing for the caller to do;
--   'wait'   E cannot start yet (an earlier event of K is still in a
--            reader's hands, or another live lease holds E): parked and
--            its task scheduled in wh:{0}:retry again;
--   'done'   E was finished already (a duplicate): nothing to deliver.
-- After any answer but 'start' the caller may acknowledge E: the task is
-- kept here or in wh:{0}:retry.

local events, retry = KEYS[1], KEYS[2]
local lease_ms, group, wait_ms = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local n = (#KEYS - 2) / 2

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

if n < 1 or n ~= math.floor(n) or #ARGV ~= 4 + 5 * n or lease_ms == nil or
    lease_ms <= 0 or wait_ms == nil or wait_ms < 0 then
  return redis.error_reply('ERR order_start: bad arguments')
end
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Delivery i's answer.
local function ask(state, parked, id, task, token, company, okey)
  local key = sortable(id)
  if key == nil or okey == '' then
    -- Only this delivery is refused: the others of the call go on.
    return redis.error_reply('ERR order_start: bad arguments')
  end
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
end

local answers = {}
for i = 1, n do
  answers[i] = ask(KEYS[1 + 2 * i], KEYS[2 + 2 * i], ARGV[5 * i],
    ARGV[5 * i + 1], ARGV[5 * i + 2], ARGV[5 * i + 3], ARGV[5 * i + 4])
end
return answers
