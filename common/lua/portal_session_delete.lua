-- portal_session_delete.lua: end a delivery portal session if it is the
-- caller's to end (api/portal_sessions.c, DELETE
-- /v1/portal-sessions/{sid}): read and removed in one step.
--
-- KEYS[1]  wh:portal:<sid>
-- ARGV[1]  the caller's company sid, or '*' for an admin key (any)
--
-- Returns 1 when the session existed and was the caller's, else 0.

local c = redis.call('HGET', KEYS[1], 'company_sid')
if not c or (ARGV[1] ~= '*' and c ~= ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
