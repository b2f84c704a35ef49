-- recover_create.lua: create a ~recover job, queued, with its entry in
-- the jobs index the dispatchers take work from (api/recover.c, POST
-- /v1/webhooks/{sid}/~recover), in one step.
--
-- KEYS[1]  wh:job:<job_sid>             KEYS[2]  wh:{0}:jobs (sid -> webhook)
-- ARGV[1]  job sid                      ARGV[2]  webhook sid
-- ARGV[3]  company sid                  ARGV[4]  since (ms)
-- ARGV[5]  until (ms)                   ARGV[6]  now (ms)
-- ARGV[7]  the job's time to live (ms)    ARGV[8]  include: 'dead' (the
--          dead letters) or 'all' (the kept events, common/lua/
--          event_resend.lua); absent: 'dead'
--
-- Returns 1.

redis.call('HSET', KEYS[1], 'sid', ARGV[1], 'kind', 'recover',
  'webhook_sid', ARGV[2], 'company_sid', ARGV[3], 'since', ARGV[4],
  'until', ARGV[5], 'state', 'queued', 'scanned', 0, 'moved', 0,
  'skipped', 0, 'created_at', ARGV[6], 'updated_at', ARGV[6],
  'include', ARGV[8] or 'dead')
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
