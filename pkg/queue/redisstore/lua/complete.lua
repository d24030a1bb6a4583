-- KEYS[9] session. Returns {'ok', JSON}, {'status', JSON} when the session is
-- not admitted (so a retried Complete is refused, announcing nothing) or {'notfound'}.
local s, raw = load(ARGV[5])
if not s then return {'notfound'} end
if s.status ~= 'ready' then return {'status', raw} end
redis.call('SREM', K_PROCESSING, s.id)
redis.call('ZREM', K_DEADLINES, s.id)
raw = finish(s, 'completed')
announce('checkout_completed', {s})
return {'ok', raw}
