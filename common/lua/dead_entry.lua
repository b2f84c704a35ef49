-- dead_entry.lua: move one stream entry, as it stands, to wh:{0}:dead
-- (dispatcher/consume.c), atomically: the dead letter is written and the
-- entry acked and deleted in the same step, and only while the entry is
-- still pending for this consumer (one another dispatcher took over is
-- its business now). Used for an entry that cannot be delivered as it is
-- (malformed) and for one whose processing keeps failing: it is moved
-- once the stream's own delivery counter reached ARGV[4] (docs/design.md,
-- "The public stream contract").
--
-- The dead letter holds reason, source_stream, source_id, then the
-- entry's fields (at most ARGV[7] of them); an original field named like
-- one of the first three is kept as original.<name>. A value longer than
-- ARGV[6] bytes is cut to that many, and <name>.size gives its length in
-- bytes, so that a 10 MB entry does not make a 10 MB dead letter; a name
-- is cut the same way.
--
-- KEYS[1]  the source stream            KEYS[2]  wh:{0}:dead
-- ARGV[1]  the consumer group           ARGV[2]  this consumer's name
-- ARGV[3]  the entry id                 ARGV[4]  deliveries needed (0: any)
-- ARGV[5]  the reason                   ARGV[6]  bytes kept of a value
-- ARGV[7]  fields kept                  ARGV[8]  MAXLEN of wh:{0}:dead
--
-- Returns the dead letter's id; 0 when the entry is not pending for this
-- consumer; -n when it has been delivered only n times.

local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1,
  ARGV[2])
if p[1] == nil then
  return 0
end
if tonumber(p[1][4]) < tonumber(ARGV[4]) then
  return -tonumber(p[1][4])
end

local own = { reason = true, source_stream = true, source_id = true }
local keep = tonumber(ARGV[6])
local out = { 'reason', ARGV[5], 'source_stream', KEYS[1],
  'source_id', ARGV[3] }
local e = redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[3])
if e[1] ~= nil then
  local f = e[1][2]
  local n = math.min(#f, 2 * tonumber(ARGV[7]))
  for i = 1, n - 1, 2 do
    local name, value = f[i], f[i + 1]
    if #name > keep then
      name = string.sub(name, 1, keep)
    end
    if own[name] then
      name = 'original.' .. name
    end
    out[#out + 1] = name
    if #value > keep then
      out[#out + 1] = string.sub(value, 1, keep)
      out[#out + 1] = name .. '.size'
      out[#out + 1] = tostring(#value)
    else
      out[#out + 1] = value
    end
  end
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*',
  unpack(out))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return id
