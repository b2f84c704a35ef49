-- attempt_record.lua: attempts of deliveries, recorded by a dispatcher in
-- one atomic step per batch (docs/delivery.md). For each:
--   * a line in the webhook's attempt log, capped by count (MAXLEN ~) and
--     by age (MINID ~; and the whole log expires once no attempt came for
--     that long, so an idle log does not outlive its age either);
--   * the line's place in the event's index across the company's
--     webhooks (GET /v1/events/{event_sid}/attempts), which expires;
--   * the endpoint's health: a success ends the failing streak, a failure
--     extends it (failing_since is the first failure of the streak);
--   * the hourly rollup behind the portal's charts (GET
--     /v1/webhooks/{sid}/stats): a ring of 24 hourly slots in one hash,
--     slot = hour % 24, each with its hour, succeeded and failed counts
--     and a latency histogram (ROLLUP_MS bounds): at most 24 * 15
--     fields per webhook, and the hash expires a day after its last
--     attempt.
-- Nothing is written for a webhook that no longer exists, so an attempt
-- that ends after a DELETE does not bring its keys back.
--
-- A dispatcher sends the attempts that ended in one round of its loop
-- together, grouped by webhook (each group in the order its attempts
-- ended): what is per webhook (the age trim, the expiry, the health of
-- a run of successes, the rollup's counts) is then done once per webhook
-- and batch, and an event index's expiry once per event and batch, so
-- the outcome is that of one call per attempt at a fraction of the
-- Redis commands. Its keys and arguments are sent once per webhook, not
-- per attempt (what Redis spends per delivery is mostly per argument
-- and per command: docs/performance.md).
--
-- KEYS     4 per webhook: wh:webhook:<sid>, wh:attempts:<sid>,
--          wh:webhook:<sid>:health, wh:webhook:<sid>:hourly;
--          then 1 per attempt: wh:event:<company_sid>:<event_sid>:attempts
-- ARGV[1]  now (ms)                       ARGV[2]  MAXLEN of a log
-- ARGV[3]  oldest entry id kept (ms)      ARGV[4]  a log's age cap (ms)
-- ARGV[5]  an event index's TTL (ms)      ARGV[6]  the number of webhooks
-- then 2 per webhook: its sid and its number of attempts;
-- then 12 per attempt, webhook by webhook: the values of the log line's
--          fields event_sid, attempt, outcome, status, error, latency_ms,
--          at, answer, receiver_date, clock_skew_ms (the names are here,
--          not sent with every attempt; the last two are left out of the
--          line when empty; outcome `succeeded` is a success), `at` in
--          ms: the attempt's score in the event's index, so that attempts
--          recorded in one batch keep their own order, then the line's
--          `request` (the event type and the header lines sent,
--          dispatcher/record.c; left out when empty)
--
-- Returns one element per attempt, in the order sent: nil when its
-- webhook is gone, 0 for a success, {consecutive_failures, failing_since
-- (ms)} for a failure.
-- Note for Redis Cluster: these keys are not in the {0} slot.

local now = ARGV[1]
local PER_ATTEMPT = 12	-- arguments per attempt
local out, indexed = {}, {}

-- Latency histogram bounds (ms) of the hourly rollup: bucket i counts
-- latencies up to ROLLUP_MS[i + 1], the last one everything above.
local ROLLUP_MS = {10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}
local hour = math.floor(tonumber(now) / 3600000)
local slot = (hour % 24) .. ':'

-- Count one attempt in the current hour's slot of its webhook (written
-- once per webhook and batch, by flush below).
local function rollup(h, ok, latency)
  local c = h.counts
  if c == nil then
    c = {}
    h.counts = c
  end
  local f = ok and 'ok' or 'fail'
  c[f] = (c[f] or 0) + 1
  if latency ~= nil then
    local b = #ROLLUP_MS
    for i = 1, #ROLLUP_MS do
      if latency <= ROLLUP_MS[i] then
        b = i - 1
        break
      end
    end
    f = 'l' .. b
    c[f] = (c[f] or 0) + 1
  end
end

-- Add a webhook's counts of this batch to the current hour's slot,
-- first emptying the slot when it still holds the same hour of an
-- earlier day.
local function flush(h)
  if h.counts == nil then return end
  if redis.call('HGET', h.hourly, slot .. 'h') ~= tostring(hour) then
    local f = {slot .. 'ok', slot .. 'fail'}
    for i = 0, #ROLLUP_MS do f[#f + 1] = slot .. 'l' .. i end
    redis.call('HDEL', h.hourly, unpack(f))
    redis.call('HSET', h.hourly, slot .. 'h', hour)
  end
  for f, n in pairs(h.counts) do
    redis.call('HINCRBY', h.hourly, slot .. f, n)
  end
  redis.call('PEXPIRE', h.hourly, 90000000)
end

-- A run of successes ends the streak once, with the latest time.
local function settle(h)
  if h.ok then
    redis.call('HSET', h.health, 'consecutive_failures', 0,
      'failing_since', 0, 'last_success_at', now)
    h.ok = false
  end
end

-- Record the n attempts of one webhook whose keys start at KEYS[k + 1],
-- their arguments at ARGV[a + 1], their results at out[r + 1].
local function record(sid, n, k, r, a)
  local h = { health = KEYS[k + 3], hourly = KEYS[k + 4] }
  local live = redis.call('EXISTS', KEYS[k + 1]) == 1
  local nhooks = tonumber(ARGV[6])
  for i = 0, n - 1 do
    local x = a + PER_ATTEMPT * i
    out[r + i + 1] = false
    if live then
      local line = { 'XADD', KEYS[k + 2], 'MAXLEN', '~', ARGV[2], '*',
        'event_sid', ARGV[x + 1], 'attempt', ARGV[x + 2],
        'outcome', ARGV[x + 3], 'status', ARGV[x + 4], 'error', ARGV[x + 5],
        'latency_ms', ARGV[x + 6], 'at', ARGV[x + 7], 'answer', ARGV[x + 8] }
      if ARGV[x + 9] ~= '' then
        line[#line + 1] = 'receiver_date'
        line[#line + 1] = ARGV[x + 9]
        line[#line + 1] = 'clock_skew_ms'
        line[#line + 1] = ARGV[x + 10]
      end
      if ARGV[x + 12] ~= '' then
        line[#line + 1] = 'request'
        line[#line + 1] = ARGV[x + 12]
      end
      local id = redis.call(unpack(line))
      local idx = KEYS[4 * nhooks + r + i + 1]
      redis.call('ZADD', idx, ARGV[x + 11], id .. '_' .. sid)
      if not indexed[idx] then
        redis.call('PEXPIRE', idx, ARGV[5])
        indexed[idx] = true
      end
      local ok = ARGV[x + 3] == 'succeeded'
      rollup(h, ok, tonumber(ARGV[x + 6]))
      if ok then
        h.ok = true
        out[r + i + 1] = 0
      else
        settle(h)
        local c = redis.call('HINCRBY', h.health, 'consecutive_failures', 1)
        local since = tonumber(redis.call('HGET', h.health, 'failing_since'))
        if since == nil or since == 0 then
          since = tonumber(now)
          redis.call('HSET', h.health, 'failing_since', now)
        end
        redis.call('HSET', h.health, 'last_failure_at', now)
        out[r + i + 1] = {c, since}
      end
    end
  end
  if live then
    redis.call('XTRIM', KEYS[k + 2], 'MINID', '~', ARGV[3])
    redis.call('PEXPIRE', KEYS[k + 2], ARGV[4])
    settle(h)
    flush(h)
  end
end

local r, a = 0, 6 + 2 * tonumber(ARGV[6])
for g = 0, tonumber(ARGV[6]) - 1 do
  local n = tonumber(ARGV[8 + 2 * g])
  record(ARGV[7 + 2 * g], n, 4 * g, r, a)
  r = r + n
  a = a + PER_ATTEMPT * n
end
return out
