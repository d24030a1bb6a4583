-- ARGV[5] state, [6] max concurrent, [7] checkout window ms, [8] URL, [9]
-- sale_starts_at ms or '', [10] a fresh seed, [11] admission rate, [12]
-- lanes (lua/lanes.lua). Replaces the event's settings; announces nothing
-- (no session changed). Returns REPLY_LANES_IN_USE, changing nothing, when
-- the lanes would drop one with waiting sessions.
-- An operator's event is never forgotten, even one a join registered.
if not lanes_set(ARGV[12]) then return REPLY_LANES_IN_USE end
put_settings(ARGV[5], ARGV[6], ARGV[7], ARGV[8])
redis.call('HSET', K_EVENT, FIELD_RATE, ARGV[11])
redis.call('HDEL', K_EVENT, FIELD_AUTO)
merge_fair_start(ARGV[9], ARGV[10])
return 'OK'
