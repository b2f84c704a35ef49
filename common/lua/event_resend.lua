-- event_resend.lua: give retained events (common/lua/event_retain.lua)
-- a new delivery to one webhook: a task with attempt 1 (first_attempt_at
-- and due_at now), added to wh:{p}:retries, which the dispatchers take
-- at once. Its event is the kept one, so the delivery carries the same
-- event_sid, hence the same webhook-id, as every earlier one; an event
-- with an ordering_key loses its entry_id, so it is not ordered again.
--
-- Two modes:
--   'event' (POST .../deliveries/{event_sid}/~resend): one event.
--     Returns 1 queued, 0 the event is not kept (unknown, or past
--     WH_EVENT_RETENTION_MS).
--   'range' (a ~recover job with include "all", worked by the
--     dispatchers): up to a batch of the company's kept events with
--     since <= kept at < until, oldest first, from the job's cursor on.
--     Each task is marked match: the dispatcher delivers it only if the
--     webhook's event types and filter take the event as they are then,
--     as for a new event. The cursor (the last score and how many
--     members of that score are done) and the counters move in the same
--     step, so any dispatcher may run the next batch. Returns 1 when the
--     batch was full (more may follow), else 0 (the job is done and
--     leaves the active jobs).
--
--   'range' in a Redis Cluster, where the job's keys are in another slot
--     (KEYS[3] and KEYS[4] not given): the window and the cursor come in
--     ARGV[7] to ARGV[10], the job is not touched, and the answer is
--     {full (1 or 0), scanned, moved, skipped, cursor, cursor_n}, which
--     the caller then writes to the job under the job's lease
--     (dispatcher/jobs.c).
--
-- p is the company's partition (0 on one Redis with WH_PARTITIONS=1):
-- 'event':  KEYS[1] wh:{p}:event:<company_sid>:<event_sid>
--           KEYS[2] wh:{p}:retries
--           ARGV[1] now (ms)  ARGV[2] 'event'  ARGV[3] webhook sid
-- 'range':  KEYS[1] wh:{p}:company:<company_sid>:events
--           KEYS[2] wh:{p}:retries
--           KEYS[3] wh:job:<job_sid>     KEYS[4] wh:{0}:jobs  (one Redis)
--           ARGV[1] now (ms)  ARGV[2] 'range'  ARGV[3] webhook sid
--           ARGV[4] batch size  ARGV[5] job sid
--           ARGV[6] the records' prefix, wh:{p}:event:<company_sid>:
--             (a record's key is it followed by the event sid)
--           ARGV[7..10] since, until, cursor, cursor_n (ms; "" for no
--             cursor yet; without KEYS[3])
-- The records, KEYS[1] and KEYS[2] share one slot: the partition's.

local now = tonumber(ARGV[1])

local function queue(rec, hook, match)
  local ok, e = pcall(cmsgpack.unpack, rec)
  if not ok or type(e) ~= 'table' then
    return 0
  end
  -- A resend is not held in publish order (docs/ordering.md): without
  -- its stream entry id the dispatcher delivers it as it comes.
  e.entry_id = nil
  local t = {v = 1, event = e, webhook_sid = hook, attempt = 1,
    first_attempt_at = now, due_at = now}
  if match then
    t.match = true
  end
  redis.call('XADD', KEYS[2], '*', 'task', cmsgpack.pack(t))
  return 1
end

if ARGV[2] == 'event' then
  local rec = redis.call('GET', KEYS[1])
  if not rec then
    return 0
  end
  return queue(rec, ARGV[3], false)
end

local job, batch, sid, pfx = KEYS[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local w
if job then
  w = redis.call('HMGET', job, 'since', 'until', 'state', 'cursor',
    'cursor_n')
  if not w[1] or not w[2] or w[3] == 'done' then
    redis.call('HDEL', KEYS[4], sid)
    return 0
  end
else
  w = { ARGV[7], ARGV[8], nil, ARGV[9], ARGV[10] }
  if tonumber(w[1]) == nil or tonumber(w[2]) == nil or batch == nil then
    return redis.error_reply('ERR event_resend: bad window')
  end
  if w[4] == '' then
    w[4], w[5] = nil, nil
  end
end
local from, skip = w[4] or w[1], tonumber(w[5] or '0')
local got = redis.call('ZRANGE', KEYS[1], from, '(' .. w[2], 'BYSCORE',
  'LIMIT', skip, batch, 'WITHSCORES')
local moved, skipped, n = 0, 0, #got / 2
for i = 1, #got, 2 do
  local rec = redis.call('GET', pfx .. got[i])
  if rec and queue(rec, ARGV[3], true) == 1 then
    moved = moved + 1
  else
    skipped = skipped + 1
  end
  if got[i + 1] == from then
    skip = skip + 1
  else
    from, skip = got[i + 1], 1
  end
end
if not job then
  return { n < batch and 0 or 1, n, moved, skipped, from, skip }
end
redis.call('HINCRBY', job, 'scanned', n)
redis.call('HINCRBY', job, 'moved', moved)
redis.call('HINCRBY', job, 'skipped', skipped)
if n < batch then
  redis.call('HSET', job, 'state', 'done', 'updated_at', ARGV[1],
    'finished_at', ARGV[1])
  redis.call('HDEL', KEYS[4], sid)
  return 0
end
redis.call('HSET', job, 'state', 'running', 'updated_at', ARGV[1],
  'cursor', from, 'cursor_n', skip)
return 1
