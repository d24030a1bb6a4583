-- KEYS[9] session; ARGV[5] session id, ARGV[6] this call's request id.
-- Returns {'ok', JSON}; {'status', JSON} when the session is not queued (a
-- second call is refused and announces nothing; the same call re-sent by the
-- client after a lost reply is answered 'ok' again); or {'notfound'}.
local s, raw = load(ARGV[5])
if not s then return {'notfound'} end
if s.status ~= 'queued' then
  -- The client re-sent this very call after losing the first reply: answer
  -- as the first run did, announcing nothing again.
  if s.status == 'left' and s.end_request == ARGV[6] then return {'ok', raw} end
  return {'status', raw}
end
local owned = owns_user(s)
redis.call('ZREM', K_QUEUE, s.id)
redis.call('ZREM', K_EXPIRY, s.id)
s.end_request = ARGV[6]
raw = finish(s, 'left', owned)
announce('user_left', {s})
return {'ok', raw}
