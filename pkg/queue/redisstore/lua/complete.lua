-- KEYS[9] session; ARGV[5] session id, ARGV[6] this call's request id.
-- Returns {REPLY_OK, JSON}; {REPLY_STATUS, JSON} when the session is not
-- admitted (a second call is refused and announces nothing; the same call
-- re-sent by the client after a lost reply is answered REPLY_OK again);
-- {REPLY_LATE, JSON} when it is admitted but its checkout deadline is at or
-- before now; or {REPLY_NOT_FOUND}.
local s, raw = load(ARGV[5])
if not s then return {REPLY_NOT_FOUND} end
if s.status ~= STATUS_READY then
  -- The client re-sent this very call after losing the first reply: answer
  -- as the first run did, announcing nothing again.
  if s.status == STATUS_COMPLETED and s.end_request == ARGV[6] then return {REPLY_OK, raw} end
  return {REPLY_STATUS, raw}
end
-- The checkout window closed at the deadline, not when Expire next runs:
-- refuse, change nothing, and leave the session for Expire to end.
if s.checkout_deadline_ms <= NOW then return {REPLY_LATE, raw} end
local owned = owns_user(s)
redis.call('SREM', K_PROCESSING, s.id)
redis.call('ZREM', K_DEADLINES, s.id)
s.end_request = ARGV[6]
raw = finish(s, STATUS_COMPLETED, owned)
announce(CHANGE_COMPLETED, {s})
return {REPLY_OK, raw}
