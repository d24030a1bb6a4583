-- ARGV[5] force ('1' or ''), [6] limit. One step of a deletion
-- (queue.EventAdminStore.DeleteEvent): REPLY_NOT_FOUND for an unknown
-- event; REPLY_LIVE when it has live sessions and force is off. Otherwise
-- it closes the event and ends at most limit live sessions (queued first,
-- then admitted) as expired, reason REASON_EVENT_DELETED, deleting their
-- keys and announcing them as one change; once none is live it deletes the
-- event's keys but seq (changes number on if the id comes back, as after
-- lua/idle.lua) and the outbox (relayed, then gone: live.go). Returns
-- {done (0 or 1), seq or 0, JSON, …} with the sessions it ended.
if redis.call('EXISTS', K_EVENT) == 0 then return REPLY_NOT_FOUND end
local live = redis.call('ZCARD', K_QUEUE) + redis.call('SCARD', K_PROCESSING)
if live > 0 and ARGV[5] ~= '1' then return REPLY_LIVE end
local limit = math.max(1, tonumber(ARGV[6]))
local queued = redis.call('ZRANGE', K_QUEUE, 0, limit - 1, 'WITHSCORES')
local ready = {}
if #queued / 2 < limit then ready = redis.call('ZRANGE', K_DEADLINES, 0, limit - #queued / 2 - 1) end
-- Every session and user key read first, before any write (see CLUSTER).
local ended = {}
for i = 1, #queued, 2 do
  local s = load_listed(queued[i]) or {id = queued[i], user_id = ''}
  s.ticket = tonumber(queued[i + 1]) -- a placement may have dealt it a new one
  ended[#ended + 1] = {s = s, owned = s.user_id ~= '' and owns_user(s)}
end
for _, id in ipairs(ready) do
  local s = load_listed(id) or {id = id, user_id = '', ticket = 0}
  ended[#ended + 1] = {s = s, owned = s.user_id ~= '' and owns_user(s)}
end
redis.call('HSET', K_EVENT, FIELD_STATE, STATE_CLOSED)
local changed, out = {}, {0, 0}
for _, x in ipairs(ended) do
  local s = x.s
  redis.call('ZREM', K_QUEUE, s.id)
  lane_unqueue(s)
  redis.call('ZREM', K_EXPIRY, s.id)
  redis.call('SREM', K_PROCESSING, s.id)
  redis.call('ZREM', K_DEADLINES, s.id)
  redis.call('ZREM', K_PRESENT, s.id)
  unhold(s)
  redis.call('DEL', session_key(s.id))
  if x.owned then redis.call('DEL', user_key(s.user_id)) end
  s.status, s.ended_at_ms, s.held_until_ms = STATUS_EXPIRED, NOW, nil
  out[#out + 1] = cjson.encode(s)
  s.reason = REASON_EVENT_DELETED
  changed[#changed + 1] = s
end
if #changed > 0 then out[2] = announce(CHANGE_EXPIRED, changed) end
if redis.call('ZCARD', K_QUEUE) + redis.call('SCARD', K_PROCESSING) > 0 then return out end
-- UNLINK: a pre-queue list or presence set may be long; Redis frees them
-- in the background.
redis.call('UNLINK', K_EVENT, K_QUEUE, K_PROCESSING, K_DEADLINES, K_EXPIRY, K_TICKETS,
  PREFIX .. KEY_PRESENT, PREFIX .. KEY_HELD, PREFIX .. KEY_BACK, PREFIX .. KEY_CURSOR,
  PREFIX .. KEY_RATE, PREFIX .. KEY_PREQUEUE, K_STATS, K_WAITS, PREFIX .. KEY_STREAMS)
out[1] = 1
return out
