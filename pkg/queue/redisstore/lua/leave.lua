-- KEYS[9] session; ARGV[5] session id, ARGV[6] this call's request id.
-- Returns {REPLY_OK, JSON}; {REPLY_STATUS, JSON} when the session is not
-- queued (a second call is refused and announces nothing; the same call
-- re-sent by the client after a lost reply is answered REPLY_OK again); or
-- {REPLY_NOT_FOUND}.
local s, raw = load(ARGV[5])
if not s then return {REPLY_NOT_FOUND} end
if s.status ~= STATUS_QUEUED then
  -- The client re-sent this very call after losing the first reply: answer
  -- as the first run did, announcing nothing again.
  if s.status == STATUS_LEFT and s.end_request == ARGV[6] then return {REPLY_OK, raw} end
  return {REPLY_STATUS, raw}
end
local owned = owns_user(s)
s.ticket = queue_ticket(s) -- a placement may have dealt it a new one
redis.call('ZREM', K_QUEUE, s.id)
lane_unqueue(s)
redis.call('ZREM', K_EXPIRY, s.id)
s.end_request = ARGV[6]
raw = finish(s, STATUS_LEFT, owned)
announce(CHANGE_LEFT, {s})
return {REPLY_OK, raw}
