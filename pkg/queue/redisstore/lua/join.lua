-- KEYS[9] session (the new id), KEYS[10] user.
-- ARGV[5] session id, [6] user id, [7] TTL ms, then the event to register if
-- unknown: [8] state, [9] max concurrent, [10] checkout window ms, [11] URL,
-- [12] its lanes (lua/lanes.lua); then [13] the lane asked for ('' for the
-- default).
-- Returns {code, session JSON, rank or -1, queue length, seq, fair start
-- sale, after, last, placed (lua/prelude.lua)}; code is
-- REPLY_CREATED or REPLY_EXISTING, or just {REPLY_CLOSED} / {REPLY_CONFLICT} /
-- {REPLY_BAD_LANE}; the lanes' part follows (lane_reply).
local sid, uid, ttl = ARGV[5], ARGV[6], tonumber(ARGV[7])

local function existing(s, raw)
  local rank = redis.call('ZRANK', K_QUEUE, s.id)
  if rank then raw = queued_raw(s.id, raw) end
  return with_place({REPLY_EXISTING, raw, rank or -1, redis.call('ZCARD', K_QUEUE), current_seq()}, s)
end

-- The user's live session, if any, is the answer: one live session per user.
local live = redis.call('GET', KEYS[10])
if live then
  local s, raw = load(live)
  if s and (s.status == STATUS_QUEUED or s.status == STATUS_READY) then return existing(s, raw) end
end
-- The id is taken: a retry of a join that succeeded and has since ended, or a clash.
local s, raw = load(sid)
if s then
  if s.user_id == uid then return existing(s, raw) end
  return {REPLY_CONFLICT}
end

if redis.call('EXISTS', K_EVENT) == 0 then
  put_settings(ARGV[8], ARGV[9], ARGV[10], ARGV[11])
  -- Registered by a join: forgotten once idle (lua/idle.lua).
  redis.call('HSET', K_EVENT, FIELD_AUTO, '1')
  if ARGV[12] ~= '' then redis.call('HSET', K_EVENT, FIELD_LANES, ARGV[12]) end
end
if redis.call('HGET', K_EVENT, FIELD_STATE) == STATE_CLOSED then return {REPLY_CLOSED} end
-- The lane (queue.Event.LaneOf): one of the event's, the first by default.
local names = event_lanes()
local lane = ARGV[13]
if #names > 0 and lane == '' then lane = names[1] end
if lane ~= '' then
  local known = false
  for _, name in ipairs(names) do known = known or name == lane end
  if not known then return {REPLY_BAD_LANE} end
end

local ticket = redis.call('INCR', K_TICKETS)
s = {id = sid, user_id = uid, event_id = EVENT, ticket = ticket, status = STATUS_QUEUED,
  joined_at_ms = NOW, expires_at_ms = NOW + ttl}
if lane ~= '' then s.lane = lane end
-- A pre-queue join (FairStart.JoinsPreQueue) extends the pre-queue and waits from the start.
local fs = fair_start()
if fs.sale and not fs.placed and NOW < fs.sale and ticket == fs.last + 1 then
  redis.call('HSET', K_EVENT, FIELD_FS_LAST, ticket)
  s.expires_at_ms = fs.sale + ttl
end
raw = save_live(s)
redis.call('SET', KEYS[10], sid)
redis.call('ZADD', K_QUEUE, ticket, sid)
if s.lane then redis.call('ZADD', lane_key(s.lane), ticket, sid) end
redis.call('ZADD', K_EXPIRY, s.expires_at_ms, sid)
local seq, qlen = announce(CHANGE_JOINED, {s})
-- The newest ticket is the highest score: last in line.
return with_place({REPLY_CREATED, raw, qlen - 1, qlen, seq}, s)
