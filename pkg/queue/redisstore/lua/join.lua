-- KEYS[9] session (the new id), KEYS[10] user.
-- ARGV[5] session id, [6] user id, [7] TTL ms, then the event to register if
-- unknown: [8] state, [9] max concurrent, [10] checkout window ms, [11] URL.
-- Returns {code, session JSON, rank or -1, queue length, seq}; code is
-- 'created' or 'existing', or just {'closed'} / {'conflict'}.
local sid, uid, ttl = ARGV[5], ARGV[6], tonumber(ARGV[7])

local function existing(s, raw)
  local rank = redis.call('ZRANK', K_QUEUE, s.id)
  return {'existing', raw, rank or -1, redis.call('ZCARD', K_QUEUE), current_seq()}
end

-- The user's live session, if any, is the answer: one live session per user.
local live = redis.call('GET', KEYS[10])
if live then
  local s, raw = load(live)
  if s and (s.status == 'queued' or s.status == 'ready') then return existing(s, raw) end
end
-- The id is taken: a retry of a join that succeeded and has since ended, or a clash.
local s, raw = load(sid)
if s then
  if s.user_id == uid then return existing(s, raw) end
  return {'conflict'}
end

if redis.call('EXISTS', K_EVENT) == 0 then
  redis.call('HSET', K_EVENT, 'id', EVENT, 'state', ARGV[8], 'max_concurrent', ARGV[9],
    'checkout_window_ms', ARGV[10], 'checkout_url', ARGV[11])
end
if redis.call('HGET', K_EVENT, 'state') == 'closed' then return {'closed'} end

local ticket = redis.call('INCR', K_TICKETS)
s = {id = sid, user_id = uid, event_id = EVENT, ticket = ticket, status = 'queued',
  joined_at_ms = NOW, expires_at_ms = NOW + ttl}
raw = save_live(s)
redis.call('SET', KEYS[10], sid)
redis.call('ZADD', K_QUEUE, ticket, sid)
redis.call('ZADD', K_EXPIRY, s.expires_at_ms, sid)
local seq, qlen = announce('user_joined', {s})
-- The newest ticket is the highest score: last in line.
return {'created', raw, qlen - 1, qlen, seq}
