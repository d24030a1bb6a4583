-- ARGV[5] sale_starts_at ms, or '' when not changed; [6] a fresh seed; then
-- pairs of settings-hash field and value. Changes only those fields of an
-- existing event (queue.EventUpdate.Apply; the fair start merged by
-- lua/merge_fair_start.lua) and makes it an operator's event. Returns the
-- settings as stored (HGETALL), or REPLY_NOT_FOUND; REPLY_LANES_IN_USE,
-- changing nothing, when the lanes (the FIELD_LANES pair, checked first)
-- would drop one with waiting sessions.
if redis.call('EXISTS', K_EVENT) == 0 then return REPLY_NOT_FOUND end
local rest = {}
for i = 7, #ARGV, 2 do
  if ARGV[i] == FIELD_LANES then
    if not lanes_set(ARGV[i + 1]) then return REPLY_LANES_IN_USE end
  else
    rest[#rest + 1], rest[#rest + 2] = ARGV[i], ARGV[i + 1]
  end
end
if #rest > 0 then redis.call('HSET', K_EVENT, unpack(rest)) end
redis.call('HDEL', K_EVENT, FIELD_AUTO)
merge_fair_start(ARGV[5], ARGV[6])
return redis.call('HGETALL', K_EVENT)
