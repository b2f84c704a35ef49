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
-- together: what is per webhook (the age trim, the expiry, the health
-- of a run of successes) is then done once per webhook and batch, in the
-- order of the attempts, so the outcome is that of one call per attempt.
--
-- KEYS, 5 per attempt: wh:webhook:<sid>, wh:attempts:<sid>,
--          wh:event:<company_sid>:<event_sid>:attempts,
--          wh:webhook:<sid>:health, wh:webhook:<sid>:hourly
-- ARGV[1]  now (ms)                       ARGV[2]  MAXLEN of a log
-- ARGV[3]  oldest entry id kept (ms)      ARGV[4]  a log's age cap (ms)
-- ARGV[5]  an event index's TTL (ms)
-- then 14 per attempt: the webhook sid, 1 if it succeeded else 0, the
--          values of the log line's fields event_sid, attempt, outcome,
--          status, error, latency_ms, at, answer, receiver_date,
--          clock_skew_ms (the names are here, not sent with every
--          attempt; the last two are left out of the line when empty),
--          and `at` in ms: the attempt's score in the event's index, so
--          that attempts recorded in one batch keep their own order,
--          then the line's `request` (the event type and the header
--          lines sent, dispatcher/record.c; left out when empty)
--
-- Returns one element per attempt: nil when its webhook is gone, 0 for
-- a success, {consecutive_failures, failing_since (ms)} for a failure.
-- Note for Redis Cluster: these keys are not in the {0} slot.

local now = ARGV[1]
local out, hooks = {}, {}

-- Latency histogram bounds (ms) of the hourly rollup: bucket i counts
-- latencies up to ROLLUP_MS[i + 1], the last one everything above.
local ROLLUP_MS = {10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}
local hour = math.floor(tonumber(now) / 3600000)
local slot = (hour % 24) .. ':'

-- Count one attempt in the current hour's slot, first emptying the slot
-- when it still holds the same hour of an earlier day.
local function rollup(h, ok, latency)
  if not h.rolled then
    if redis.call('HGET', h.hourly, slot .. 'h') ~= tostring(hour) then
      local f = {slot .. 'ok', slot .. 'fail'}
      for i = 0, #ROLLUP_MS do f[#f + 1] = slot .. 'l' .. i end
      redis.call('HDEL', h.hourly, unpack(f))
      redis.call('HSET', h.hourly, slot .. 'h', hour)
    end
    redis.call('PEXPIRE', h.hourly, 90000000)
    h.rolled = true
  end
  redis.call('HINCRBY', h.hourly, slot .. (ok and 'ok' or 'fail'), 1)
  if latency ~= nil then
    local b = #ROLLUP_MS
    for i = 1, #ROLLUP_MS do
      if latency <= ROLLUP_MS[i] then
        b = i - 1
        break
      end
    end
    redis.call('HINCRBY', h.hourly, slot .. 'l' .. b, 1)
  end
end

-- A run of successes ends the streak once, with the latest time.
local function settle(h)
  if h.ok then
    redis.call('HSET', h.health, 'consecutive_failures', 0,
      'failing_since', 0, 'last_success_at', now)
    h.ok = false
  end
end

for r = 0, #KEYS / 5 - 1 do
  local k, a = 5 * r, 5 + 14 * r
  local h = hooks[KEYS[k + 1]]
  if h == nil then
    h = { live = redis.call('EXISTS', KEYS[k + 1]) == 1, health = KEYS[k + 4],
      hourly = KEYS[k + 5] }
    hooks[KEYS[k + 1]] = h
  end
  out[r + 1] = false
  if h.live then
    local line = { 'XADD', KEYS[k + 2], 'MAXLEN', '~', ARGV[2], '*',
      'event_sid', ARGV[a + 3], 'attempt', ARGV[a + 4],
      'outcome', ARGV[a + 5], 'status', ARGV[a + 6], 'error', ARGV[a + 7],
      'latency_ms', ARGV[a + 8], 'at', ARGV[a + 9], 'answer', ARGV[a + 10] }
    if ARGV[a + 11] ~= '' then
      table.insert(line, 'receiver_date')
      table.insert(line, ARGV[a + 11])
      table.insert(line, 'clock_skew_ms')
      table.insert(line, ARGV[a + 12])
    end
    if ARGV[a + 14] ~= '' then
      table.insert(line, 'request')
      table.insert(line, ARGV[a + 14])
    end
    local id = redis.call(unpack(line))
    if not h.trimmed then
      redis.call('XTRIM', KEYS[k + 2], 'MINID', '~', ARGV[3])
      redis.call('PEXPIRE', KEYS[k + 2], ARGV[4])
      h.trimmed = true
    end
    redis.call('ZADD', KEYS[k + 3], ARGV[a + 13], id .. '_' .. ARGV[a + 1])
    redis.call('PEXPIRE', KEYS[k + 3], ARGV[5])
    rollup(h, ARGV[a + 2] == '1', tonumber(ARGV[a + 8]))
    if ARGV[a + 2] == '1' then
      h.ok = true
      out[r + 1] = 0
    else
      settle(h)
      local n = redis.call('HINCRBY', h.health, 'consecutive_failures', 1)
      local since = tonumber(redis.call('HGET', h.health, 'failing_since'))
      if since == nil or since == 0 then
        since = tonumber(now)
        redis.call('HSET', h.health, 'failing_since', now)
      end
      redis.call('HSET', h.health, 'last_failure_at', now)
      out[r + 1] = {n, since}
    end
  end
end
for _, h in pairs(hooks) do
  settle(h)
end
return out
