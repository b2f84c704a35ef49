-- attempt_record.lua: one attempt of a delivery, recorded by a dispatcher
-- in one atomic step (README, "Delivery semantics"):
--   * a line in the webhook's attempt log, capped by count (MAXLEN ~) and
--     by age (MINID ~; and the whole log expires once no attempt came for
--     that long, so an idle log does not outlive its age either);
--   * the line's place in the event's index across the company's
--     webhooks (GET /v1/events/{event_sid}/attempts), which expires;
--   * the endpoint's health: a success ends the failing streak, a failure
--     extends it (failing_since is the first failure of the streak).
-- Nothing is written for a webhook that no longer exists, so an attempt
-- that ends after a DELETE does not bring its keys back.
--
-- KEYS[1]  wh:webhook:<sid>              KEYS[2]  wh:attempts:<sid>
-- KEYS[3]  wh:event:<company_sid>:<event_sid>:attempts
-- KEYS[4]  wh:webhook:<sid>:health
-- ARGV[1]  now (ms)                       ARGV[2]  MAXLEN of the log
-- ARGV[3]  oldest entry id kept (ms)      ARGV[4]  the log's age cap (ms)
-- ARGV[5]  the event index's TTL (ms)     ARGV[6]  the webhook sid
-- ARGV[7]  1 when the attempt succeeded, else 0
-- ARGV[8..] the log line's fields and values, as for XADD
--
-- Returns false when the webhook is gone, else {entry id,
-- consecutive_failures, failing_since (ms, 0 when not failing)}.
-- Note for Redis Cluster: these keys are not in the {0} slot.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*',
  unpack(ARGV, 8))
redis.call('XTRIM', KEYS[2], 'MINID', '~', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[1], id .. '_' .. ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[4], 'consecutive_failures', 0,
    'last_success_at', ARGV[1])
  redis.call('HDEL', KEYS[4], 'failing_since')
  return {id, 0, 0}
end
local n = redis.call('HINCRBY', KEYS[4], 'consecutive_failures', 1)
redis.call('HSETNX', KEYS[4], 'failing_since', ARGV[1])
redis.call('HSET', KEYS[4], 'last_failure_at', ARGV[1])
return {id, n, tonumber(redis.call('HGET', KEYS[4], 'failing_since'))}
