-- KEYS[1] the outbox stream; ARGV[1] the consumer group, ARGV[2] the consumer,
-- ARGV[3] n, ARGV[4] minIdle in milliseconds.
-- One consumer at a time: if another consumer holds a pending entry idle for
-- less than minIdle, nothing is handed out. Otherwise the consumer's own
-- pending entries are renewed (their idle time reset) and returned again (a
-- reply lost on the way must not strand them), and up to n more entries are
-- handed to it: first other consumers' idle ones, then new ones.
-- Returns {own, taken over, new}, each a list of stream entries.
local key, group, me = KEYS[1], ARGV[1], ARGV[2]
local n, minIdle = tonumber(ARGV[3]), tonumber(ARGV[4])

local pending = redis.pcall('XPENDING', key, group, '-', '+', 10000)
if pending.err then
  if string.sub(pending.err, 1, 7) ~= 'NOGROUP' then
    return redis.error_reply(pending.err)
  end
  -- From the stream's start, so entries recorded before any relay ran are
  -- relayed too.
  redis.call('XGROUP', 'CREATE', key, group, '0', 'MKSTREAM')
  pending = {}
end

local own = {}
for _, p in ipairs(pending) do
  if p[2] == me then
    own[#own + 1] = p[1]
  elseif p[3] < minIdle then
    return {{}, {}, {}} -- another consumer has the outbox
  end
end
local mine = {}
for i = 1, #own, 500 do
  for _, e in ipairs(redis.call('XCLAIM', key, group, me, 0, unpack(own, i, math.min(i + 499, #own)))) do
    mine[#mine + 1] = e
  end
end

local taken, fresh = {}, {}
if n > 0 then
  taken = redis.call('XAUTOCLAIM', key, group, me, minIdle, '0-0', 'COUNT', n)[2]
  local left = n - #taken
  if left > 0 then
    local r = redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', left, 'STREAMS', key, '>')
    if r then
      fresh = r[1][2]
    end
  end
end
return {mine, taken, fresh}
