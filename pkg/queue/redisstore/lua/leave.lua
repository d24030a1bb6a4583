-- KEYS[9] session. Returns {'ok', JSON}, {'status', JSON} when the session is
-- not queued (so a retried Leave is refused, announcing nothing) or {'notfound'}.
local s, raw = load(ARGV[5])
if not s then return {'notfound'} end
if s.status ~= 'queued' then return {'status', raw} end
redis.call('ZREM', K_QUEUE, s.id)
redis.call('ZREM', K_EXPIRY, s.id)
raw = finish(s, 'left')
announce('user_left', {s})
return {'ok', raw}
