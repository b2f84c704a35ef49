-- dead_requeue.lua: give dead letters of one webhook another delivery,
-- counting attempts afresh: the kept task is re-encoded with attempt 1
-- (first_attempt_at and due_at now, no last_error) and added to
-- wh:{p}:retries, and the dead letter leaves the stream and the index in
-- the same atomic step, so two callers (two api requests, two
-- dispatchers on one job) never enqueue it twice.
--
-- Two modes:
--   'event' (POST .../deliveries/{event_sid}/~redeliver): one event.
--     Returns 1 requeued, 0 no dead letter for it, -1 its entry was
--     trimmed from the stream or unreadable (now dropped from the index).
--   'range' (a ~recover job, worked by the dispatchers): up to a batch of
--     the dead letters with since <= dead_at < until (read from the job),
--     oldest first. Every member scanned leaves the index, requeued or
--     not, so the job needs no cursor: the next batch starts where this
--     one ended, on any dispatcher, and a dispatcher that dies between two
--     batches loses nothing. The job's counters move in the same step.
--     Returns 1 when the batch was full (more may follow), else 0 (the
--     job is done and leaves the active jobs).
--   'range' in a Redis Cluster, where the job's keys are in another slot
--     (KEYS[5] and KEYS[6] not given): the window comes in ARGV[5] and
--     ARGV[6], the job is not touched, and the answer is {full (1 or 0),
--     scanned, moved, skipped}, which the caller then adds to the job
--     (dispatcher/jobs.c). A batch's letters still move once; a caller
--     that dies in between loses only that batch's counts.
--
-- KEYS[1]  wh:webhook:<sid>:dead        KEYS[2]  wh:webhook:<sid>:dead_ids
-- KEYS[3]  wh:{p}:dead                  KEYS[4]  wh:{p}:retries
-- KEYS[5]  wh:job:<job_sid>             KEYS[6]  wh:{0}:jobs  ('range',
--                                                 one Redis)
-- ARGV[1]  now (ms)                     ARGV[2]  'event' or 'range'
-- ARGV[3]  the event sid ('event'), or the batch size ('range')
-- ARGV[4]  the job sid ('range')
-- ARGV[5], ARGV[6]  since, until (ms; 'range' without KEYS[5])
-- KEYS[1..4] share one slot in a cluster: the company's partition's.

local now = tonumber(ARGV[1])

local function requeue(evt)
  local id = redis.call('HGET', KEYS[2], evt)
  redis.call('ZREM', KEYS[1], evt)
  redis.call('HDEL', KEYS[2], evt)
  if not id then
    return 0
  end
  local e = redis.call('XRANGE', KEYS[3], id, id)
  if #e == 0 then
    return -1
  end
  local f, task = e[1][2], nil
  for i = 1, #f, 2 do
    if f[i] == 'task' then
      task = f[i + 1]
    end
  end
  local ok, t = false, nil
  if task then
    ok, t = pcall(cmsgpack.unpack, task)
  end
  if not ok or type(t) ~= 'table' or type(t.event) ~= 'table' then
    return -1
  end
  t.attempt = 1
  -- Not held in publish order again (docs/ordering.md): its key moved on.
  t.event.entry_id = nil
  t.first_attempt_at = now
  t.due_at = now
  t.last_error = nil
  redis.call('XADD', KEYS[4], '*', 'task', cmsgpack.pack(t))
  redis.call('XDEL', KEYS[3], id)
  return 1
end

if ARGV[2] == 'event' then
  return requeue(ARGV[3])
end

local job, sid, batch = KEYS[5], ARGV[4], tonumber(ARGV[3])
local w = { ARGV[5], ARGV[6] }
if job then
  w = redis.call('HMGET', job, 'since', 'until', 'state')
  if not w[1] or not w[2] or w[3] == 'done' then
    redis.call('HDEL', KEYS[6], sid)
    return 0
  end
end
local evts = redis.call('ZRANGE', KEYS[1], w[1], '(' .. w[2], 'BYSCORE',
  'LIMIT', 0, batch)
local moved, skipped = 0, 0
for _, evt in ipairs(evts) do
  if requeue(evt) == 1 then
    moved = moved + 1
  else
    skipped = skipped + 1
  end
end
if not job then
  return { #evts < batch and 0 or 1, #evts, moved, skipped }
end
redis.call('HINCRBY', job, 'scanned', #evts)
redis.call('HINCRBY', job, 'moved', moved)
redis.call('HINCRBY', job, 'skipped', skipped)
if #evts < batch then
  redis.call('HSET', job, 'state', 'done', 'updated_at', ARGV[1],
    'finished_at', ARGV[1])
  redis.call('HDEL', KEYS[6], sid)
  return 0
end
redis.call('HSET', job, 'state', 'running', 'updated_at', ARGV[1])
return 1
