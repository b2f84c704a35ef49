-- refresh_owned.lua: a dispatcher keeps the stream entries it still owns
-- and learns which it lost, in one atomic step (dispatcher/upkeep.c).
-- Each id still pending for this consumer has its idle time reset
-- (XCLAIM to itself, JUSTID: the delivery counter is not touched); an id
-- another consumer claimed meanwhile (its owner was paused longer than
-- WH_CLAIM_IDLE_MS), or that is no longer pending at all, is left alone
-- and returned, so a paused dispatcher never takes back what another
-- one has taken over.
--
-- KEYS[1]  the stream (wh:{0}:events or wh:{0}:retries)
-- ARGV[1]  the consumer group          ARGV[2]  this consumer's name
-- ARGV[3..] the entry ids it holds
--
-- Returns the ids it no longer owns.

local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1,
    ARGV[2])
  if p[1] ~= nil then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
