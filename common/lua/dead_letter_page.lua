-- dead_letter_page.lua: the dead letters of one page of a webhook's list
-- (api/dead_letters.c, GET /v1/webhooks/{sid}/dead-letters), read in one
-- step with the index they were found by. An index entry whose dead
-- letter is gone (trimmed by age, or given another delivery) is removed
-- on the way, so the next page does not meet it again.
--
-- KEYS[1]  wh:webhook:<sid>:dead (zset of event sids by time)
-- KEYS[2]  wh:webhook:<sid>:dead_ids (event sid -> entry id)
-- KEYS[3]  wh:{0}:dead (the dead letters' stream)
-- ARGV     the page's event sids, in order
--
-- Returns one element per event sid, in order: the entry as XRANGE gives
-- it ([id, fields]), or false when it is gone.

local out = {}
for i, evt in ipairs(ARGV) do
  local id = redis.call('HGET', KEYS[2], evt)
  local e = {}
  if id then
    e = redis.call('XRANGE', KEYS[3], id, id)
  end
  if #e == 1 then
    out[i] = e[1]
  else
    redis.call('ZREM', KEYS[1], evt)
    redis.call('HDEL', KEYS[2], evt)
    out[i] = false
  end
end
return out
