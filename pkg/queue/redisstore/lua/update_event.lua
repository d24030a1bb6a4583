-- ARGV[5] sale_starts_at ms, or '' when not changed; [6] a fresh seed; then
-- pairs of settings-hash field and value. Changes only those fields of an
-- existing event (queue.EventUpdate.Apply; the fair start merged by
-- lua/merge_fair_start.lua) and makes it an operator's event. Returns the
-- settings as stored (HGETALL), or REPLY_NOT_FOUND.
if redis.call('EXISTS', K_EVENT) == 0 then return REPLY_NOT_FOUND end
if #ARGV > 6 then redis.call('HSET', K_EVENT, unpack(ARGV, 7)) end
redis.call('HDEL', K_EVENT, FIELD_AUTO)
merge_fair_start(ARGV[5], ARGV[6])
return redis.call('HGETALL', K_EVENT)
