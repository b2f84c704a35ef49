-- event_retain.lua: keep a batch of events for WH_EVENT_RETENTION_MS, so
-- that GET /v1/events/{event_sid}, ~resend and ~recover with include
-- "all" find them (docs/delivery.md, "Resending"). Run by a dispatcher
-- for each batch of entries it reads from wh:{p}:events (so events a
-- service XADDs straight to the stream are kept too), before it fans
-- them out; a claimed entry read again is kept again, harmlessly.
--
-- KEYS[2i-1]  wh:{p}:event:<company_sid>:<event_sid>   (the record)
-- KEYS[2i]    wh:{p}:company:<company_sid>:events      (the index)
-- ARGV[1]     now (ms)
-- ARGV[2]     retention (ms, > 0)
-- ARGV[2+2i-1] event i's sid       ARGV[2+2i]  its record (msgpack event)
--
-- Each record expires with the retention; the index (event_sid -> ms it
-- was kept) drops what is older than the retention as it is written and
-- expires when the company publishes nothing for that long. p is the
-- partition of the event's company: one call keeps the events of one
-- partition, so every key is in its slot. Returns the number of events
-- kept.

local now, keep = tonumber(ARGV[1]), tonumber(ARGV[2])
if now == nil or keep == nil or keep < 1 or #KEYS % 2 ~= 0 or
    #ARGV ~= 2 + #KEYS then
  return redis.error_reply('ERR event_retain: bad arguments')
end
local trimmed = {}
for i = 1, #KEYS, 2 do
  local sid, rec = ARGV[2 + i], ARGV[3 + i]
  redis.call('SET', KEYS[i], rec, 'PX', keep)
  redis.call('ZADD', KEYS[i + 1], now, sid)
  if not trimmed[KEYS[i + 1]] then
    trimmed[KEYS[i + 1]] = true
    redis.call('ZREMRANGEBYSCORE', KEYS[i + 1], '-inf', '(' .. (now - keep))
    redis.call('PEXPIRE', KEYS[i + 1], keep)
  end
end
return #KEYS / 2
