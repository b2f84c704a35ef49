-- ratelimit.lua: one webhook's request rate, shared by every dispatcher
-- (GCRA, the generic cell rate algorithm). The key remembers a single
-- number, the theoretical arrival time (tat): when the endpoint would be
-- idle again had every request so far been spaced exactly 1/per_second
-- apart. A request is allowed while tat lies less than (burst - 1)
-- intervals ahead of now, so at most burst + per_second x t requests are
-- allowed in any window of t seconds, whatever the number of dispatchers
-- asking. The same key holds pause_until: a receiver's 429 Retry-After
-- stops the endpoint for every dispatcher until then.
--
-- KEYS[1]  wh:webhook:<sid>:rate (hash: tat, pause_until; microseconds
--          on the Redis clock)
-- ARGV[1]  'take': may one request go now?
--            ARGV[2] per_second (> 0)   ARGV[3] burst (>= 1)
--            Returns {1, 0} (allowed: counted) or {0, wait_ms} (not
--            counted: ask again in wait_ms, at least 1).
--          'reserve': the same, but a request that would be allowed
--            within ARGV[4] ms is counted now for then
--            ARGV[2] per_second   ARGV[3] burst   ARGV[4] max wait (ms)
--            Returns {1, wait_ms} (counted: send it in wait_ms, 0 now) or
--            {0, wait_ms} as 'take'. The spacing is the limiter's, so
--            dispatchers waiting at once never herd.
--          'pause': the receiver asked for a pause
--            ARGV[2] ms from now; a pause only ever grows.
--            Returns the ms the endpoint stays paused.
-- ARGV[last] optional: now in ms instead of Redis TIME (tests only; the
--          dispatchers never pass it, so every one shares Redis' clock).
--
-- The key expires once it no longer matters (tat and any pause passed).

local function now_us(arg)
  if arg ~= nil and arg ~= '' then
    return tonumber(arg) * 1000
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local key = KEYS[1]
local op = ARGV[1]

if op == 'pause' then
  local delay = tonumber(ARGV[2])
  if delay == nil or delay < 0 then
    return redis.error_reply('ERR pause needs ms >= 0')
  end
  local now = now_us(ARGV[3])
  local untl = now + delay * 1000
  local old = tonumber(redis.call('HGET', key, 'pause_until') or '0')
  if old > untl then
    untl = old
  end
  redis.call('HSET', key, 'pause_until', string.format('%d', untl))
  local tat = tonumber(redis.call('HGET', key, 'tat') or '0')
  local last = math.max(untl, tat)
  redis.call('PEXPIRE', key, math.ceil((last - now) / 1000) + 1000)
  return math.ceil((untl - now) / 1000)
end

if op ~= 'take' and op ~= 'reserve' then
  return redis.error_reply('ERR unknown ratelimit operation')
end
local hold, clock = 0, ARGV[4]
if op == 'reserve' then
  hold = tonumber(ARGV[4])
  if hold == nil or hold < 0 then
    return redis.error_reply('ERR reserve needs a max wait >= 0')
  end
  hold, clock = hold * 1000, ARGV[5]
end

local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
if rate == nil or rate <= 0 or burst == nil or burst < 1 then
  return redis.error_reply('ERR take needs per_second > 0, burst >= 1')
end
burst = math.floor(burst)
local now = now_us(clock)
-- Rounded up: a rounded-down interval would let through a little more
-- than per_second over a long window.
local interval = math.ceil(1000000 / rate)
local tolerance = interval * (burst - 1)

local h = redis.call('HMGET', key, 'tat', 'pause_until')
local tat = tonumber(h[1] or '0')
local pause = tonumber(h[2] or '0')

if pause > now then
  return {0, math.max(1, math.ceil((pause - now) / 1000))}
end
if tat < now then
  tat = now
end
local wait = tat - now - tolerance
if wait > hold then
  return {0, math.max(1, math.ceil(wait / 1000))}
end
tat = tat + interval
redis.call('HSET', key, 'tat', string.format('%d', tat))
redis.call('PEXPIRE', key, math.ceil((math.max(tat, pause) - now) / 1000)
  + 1000)
if wait > 0 then
  return {1, math.ceil(wait / 1000)}
end
return {1, 0}
