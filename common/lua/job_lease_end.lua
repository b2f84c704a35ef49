-- job_lease_end.lua: end a Redis Cluster ~recover batch in its job's slot
-- ({g}), after the batch ran in its partition's (dispatcher/jobs.c).
--
-- The batch's counts are added whoever runs this: its letters were moved,
-- its events resent. The job's state and cursor are written only if the
-- cursor is still the one the batch started from (compare-and-set): a
-- dispatcher whose lease lapsed during a stall, while another took the
-- lease and moved the cursor on, must not move it back (every batch in
-- between would be resent again). The lease is given back only by its
-- holder, so that a lapsed one does not free the next holder's lease for
-- a third dispatcher.
--
-- KEYS[1]  wh:{g}:job:<job_sid>:lease    KEYS[2]  wh:{g}:job:<job_sid>
-- KEYS[3]  wh:{g}:jobs
-- ARGV[1]  the caller's consumer name (the lease's value)
-- ARGV[2]  "release" (give the lease back, nothing else), "running" (a
--          full batch: more may follow) or "done" (the job is finished)
-- ARGV[3]  job_sid                        ARGV[4]  now (ms)
-- ARGV[5..7]   scanned, moved, skipped to add ("" when the batch has none)
-- ARGV[8..9]   cursor and cursor_n as the batch read them ("" for none)
-- ARGV[10..11] the new cursor and cursor_n ("" to leave them)
--
-- Returns 1 when the job's state was written, 0 when its cursor had moved
-- (or, for "release", when the lease was not the caller's).

local function drop_lease()
  if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end

if ARGV[2] == 'release' then
  return drop_lease()
end
-- Expired (7 days) while active: leave the active jobs, create nothing.
if redis.call('EXISTS', KEYS[2]) == 0 then
  drop_lease()
  redis.call('HDEL', KEYS[3], ARGV[3])
  return 0
end
local names = { 'scanned', 'moved', 'skipped' }
for i = 1, 3 do
  if ARGV[4 + i] ~= '' then
    redis.call('HINCRBY', KEYS[2], names[i], ARGV[4 + i])
  end
end
drop_lease()
local at = redis.call('HMGET', KEYS[2], 'cursor', 'cursor_n')
if (at[1] or '') ~= ARGV[8] or (at[2] or '') ~= ARGV[9] then
  return 0
end
redis.call('HSET', KEYS[2], 'state', ARGV[2], 'updated_at', ARGV[4])
if ARGV[2] == 'done' then
  redis.call('HSET', KEYS[2], 'finished_at', ARGV[4])
  redis.call('HDEL', KEYS[3], ARGV[3])
elseif ARGV[10] ~= '' then
  redis.call('HSET', KEYS[2], 'cursor', ARGV[10], 'cursor_n', ARGV[11])
end
return 1
