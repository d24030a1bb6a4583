-- Shared by every script that changes or reads an event (prepended to each,
-- after the names it shares with Go: CHANNEL_PREFIX, STATUS_*, CHANGE_*,
-- REPLY_* and the rest, declared from scripts.go). All keys of one event share
-- the hash tag {<event>}, so a script runs on one cluster node, atomically.
--
-- KEYS, the same for every script: the event's fixed keys, then the session
-- and user keys where a script needs them.
local K_EVENT, K_QUEUE, K_PROCESSING, K_DEADLINES = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_EXPIRY, K_TICKETS, K_SEQ, K_OUTBOX = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
-- ARGV[1..4], the same for every script; script arguments start at ARGV[5].
-- Times are Unix milliseconds from the caller: the server's clock is never read,
-- so a retried call does the same thing. ARGV[4] holds flags: FLAG_OUTBOX the
-- outbox is on, FLAG_CLUSTER the store is a Redis Cluster.
local PREFIX, EVENT, NOW = ARGV[1], ARGV[2], tonumber(ARGV[3])
local OUTBOX = string.find(ARGV[4], FLAG_OUTBOX, 1, true) ~= nil
-- Session and user keys are not in KEYS (their ids come from the event's
-- sets). While a cluster moves the event's slot, such a key may already be
-- on the other node: reading it fails on the old node, and finds nothing on
-- the new one. So every script reads all of them before its first write,
-- and in a cluster stops with TRYAGAIN, changing nothing, when a session
-- the event's sets name is not there; the caller retries after the move.
local CLUSTER = string.find(ARGV[4], FLAG_CLUSTER, 1, true) ~= nil

local function session_key(id) return PREFIX .. KEY_SESSION .. id end
-- Presence keys (presence.go), like session keys not in KEYS: who is present
-- until when, who is held until when, held sessions present again, and the
-- ticket the walk has reached.
local K_PRESENT, K_HELD = PREFIX .. KEY_PRESENT, PREFIX .. KEY_HELD
local K_BACK, K_CURSOR = PREFIX .. KEY_BACK, PREFIX .. KEY_CURSOR

-- unhold forgets s's hold as it leaves the queue or is admitted; a session
-- that was never held costs nothing.
local function unhold(s)
  if not s.held_until_ms then return end
  redis.call('ZREM', K_HELD, s.id)
  redis.call('ZREM', K_BACK, s.id)
  s.held_until_ms = nil
end
local function user_key(id) return PREFIX .. KEY_USER .. id end

-- load returns a session and its JSON, or nil.
local function load(id)
  local raw = redis.call('GET', session_key(id))
  if not raw then return nil end
  return cjson.decode(raw), raw
end

-- save_live stores a live (queued or ready) session. Live sessions do not
-- expire by themselves: Expire ends them, so nothing is left dangling in the
-- queue or the processing set.
local function save_live(s)
  local raw = cjson.encode(s)
  redis.call('SET', session_key(s.id), raw)
  return raw
end

-- load_listed loads a session an event's set names, before any write (see
-- CLUSTER). Outside a cluster a missing one is a queue entry whose session
-- was deleted by hand, and nil says so.
local function load_listed(id)
  local s, raw = load(id)
  if not s and CLUSTER then
    error({err = 'TRYAGAIN session ' .. id .. ' is not on this node yet (slot migrating)'})
  end
  return s, raw
end

-- owns_user reads whether s's user key still points at s: read before any
-- write (see CLUSTER), used by finish.
local function owns_user(s) return redis.call('GET', user_key(s.user_id)) == s.id end

-- finish ends a live session with status. It stays readable for its TTL
-- (ExpiresAt - JoinedAt) after it ends, and its user may join again (owned:
-- owns_user(s), read before the script's first write).
local function finish(s, status, owned)
  unhold(s)
  s.status = status
  s.ended_at_ms = NOW
  local raw = cjson.encode(s)
  redis.call('SET', session_key(s.id), raw, 'PX', math.max(1, s.expires_at_ms - s.joined_at_ms))
  if owned then redis.call('DEL', user_key(s.user_id)) end
  return raw
end

-- rfc3339 formats Unix milliseconds as UTC RFC 3339 (the usual
-- civil-from-days conversion on the proleptic Gregorian calendar).
local function rfc3339(ms)
  local secs = math.floor(ms / 1000)
  local days = math.floor(secs / 86400)
  local sod = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
    math.floor(sod / 3600), math.floor(sod % 3600 / 60), sod % 60, ms - secs * 1000)
end

-- The event's figures (queue.StatsStore; Go's rules repeated): totals by
-- the sessions' new status, the first join, admissions per second in a ring
-- of RATE_WINDOW slots (queue.AdmitRing.Add; a slot holds "second:count"),
-- and the most recent admissions' waits, newest first.
local K_STATS, K_WAITS = PREFIX .. KEY_STATS, PREFIX .. KEY_WAITS
local TOTAL_FIELD = {[STATUS_QUEUED] = FIELD_JOINED, [STATUS_READY] = FIELD_ADMITTED,
  [STATUS_COMPLETED] = FIELD_COMPLETED, [STATUS_EXPIRED] = FIELD_EXPIRED, [STATUS_LEFT] = FIELD_LEFT}

local function count_admissions(n)
  local sec = math.floor(NOW / 1000)
  local slot = FIELD_ADMIT_SLOT .. (sec % RATE_WINDOW)
  local at, had = string.match(redis.call('HGET', K_STATS, slot) or '', '^(%-?%d+):(%d+)$')
  if at and tonumber(at) >= sec then sec, n = tonumber(at), tonumber(had) + n end
  redis.call('HSET', K_STATS, slot, string.format('%d:%d', sec, n))
end

-- tally counts a change in the event's figures, in the script that makes it.
local function tally(kind, changed)
  local counts, waits = {}, {}
  for _, s in ipairs(changed) do
    if s.status ~= STATUS_QUEUED or kind == CHANGE_JOINED then
      local f = TOTAL_FIELD[s.status]
      if f then counts[f] = (counts[f] or 0) + 1 end
      if s.status == STATUS_READY and s.joined_at_ms then waits[#waits + 1] = NOW - s.joined_at_ms end
    end
  end
  for _, f in ipairs({FIELD_JOINED, FIELD_ADMITTED, FIELD_COMPLETED, FIELD_EXPIRED, FIELD_LEFT}) do
    if counts[f] then redis.call('HINCRBY', K_STATS, f, counts[f]) end
  end
  if kind == CHANGE_JOINED then redis.call('HSETNX', K_STATS, FIELD_SINCE, NOW) end
  if counts[FIELD_ADMITTED] then count_admissions(counts[FIELD_ADMITTED]) end
  if #waits == 0 then return end
  for i = 1, #waits, 500 do
    redis.call('LPUSH', K_WAITS, unpack(waits, i, math.min(i + 499, #waits)))
  end
  redis.call('LTRIM', K_WAITS, 0, MAX_WAITS - 1)
end

-- announce numbers a change, counts it in the event's figures, publishes it
-- to the event's channel and, with the outbox on, records it there, all
-- inside the script: subscribers see changes in seq order and the outbox
-- never misses one. changed is empty only for a placement.
local function announce(kind, changed, deadline_ms)
  tally(kind, changed)
  local seq = redis.call('INCR', K_SEQ)
  local qlen = redis.call('ZCARD', K_QUEUE)
  local ids, list = {}, {}
  for i, s in ipairs(changed) do
    ids[i] = s.id
    list[i] = {id = s.id, user_id = s.user_id, ticket = s.ticket, status = s.status, reason = s.reason, lane = s.lane}
  end
  local msg = {event_id = EVENT, update_type = kind, affected_session_ids = ids,
    timestamp = rfc3339(NOW), seq = seq, queue_length = qlen, sessions = list}
  -- An event with lanes: its lanes and round-robin after the change. Its
  -- sessions have lanes, so a change naming none without one (of an event
  -- without lanes) need not look.
  local laned = #changed == 0
  for _, s in ipairs(changed) do laned = laned or s.lane ~= nil end
  local lanes_raw = laned and redis.call('HGET', K_EVENT, FIELD_LANES)
  if lanes_raw then msg.lanes, msg.rr = lanes_raw, redis.call('HGET', K_EVENT, FIELD_RR) or '' end
  if deadline_ms then msg.checkout_deadline = rfc3339(deadline_ms) end
  local body = cjson.encode(msg)
  -- cjson writes an empty table as {}: a change with no sessions (a
  -- placement) lists them as the empty arrays they are.
  if #changed == 0 then body = string.gsub(body, '":{}', '":[]') end
  redis.call('PUBLISH', CHANNEL_PREFIX .. EVENT, body)
  if OUTBOX then redis.call('XADD', K_OUTBOX, '*', OUTBOX_FIELD, body) end
  return seq, qlen
end

local function current_seq() return tonumber(redis.call('GET', K_SEQ) or '0') end

-- put_settings replaces the event's settings.
local function put_settings(state, max_concurrent, checkout_window_ms, checkout_url)
  redis.call('HSET', K_EVENT, FIELD_ID, EVENT, FIELD_STATE, state, FIELD_MAX_CONCURRENT, max_concurrent,
    FIELD_CHECKOUT_WINDOW, checkout_window_ms, FIELD_CHECKOUT_URL, checkout_url)
end

-- The fair start (queue.FairStart; its rules are in Go, repeated here).
-- fair_start reads the event's fair start: sale and placed are Unix ms
-- (nil: none / not yet), after and last the pre-queue's tickets.
local function fair_start()
  local f = redis.call('HMGET', K_EVENT, FIELD_FS_SALE, FIELD_FS_AFTER, FIELD_FS_LAST, FIELD_FS_PLACED_AT)
  return {sale = tonumber(f[1]), after = tonumber(f[2]) or 0, last = tonumber(f[3]) or 0, placed = tonumber(f[4])}
end

-- fair_holding: an event whose pre-queue is not placed admits nobody.
local function fair_holding()
  return redis.call('HEXISTS', K_EVENT, FIELD_FS_SALE) == 1 and redis.call('HEXISTS', K_EVENT, FIELD_FS_PLACED_AT) == 0
end

-- fair_place_reply is what session replies append for Go's FairStart.PlaceOf.
local function fair_place_reply()
  local f = redis.call('HMGET', K_EVENT, FIELD_FS_SALE, FIELD_FS_AFTER, FIELD_FS_LAST, FIELD_FS_PLACED_AT)
  return f[1] or '', f[2] or '', f[3] or '', f[4] or ''
end

-- queued_raw is a session's document with, while it waits, the ticket the
-- queue holds for it: a placement deals the pre-queue new tickets in the
-- queue alone (lua/place.lua), and a document catches up when its session
-- leaves the queue (admit, leave, expire).
local function queued_raw(id, raw)
  local score = redis.call('ZSCORE', K_QUEUE, id)
  if not score then return raw end
  return (string.gsub(raw, '"ticket":%d+', '"ticket":' .. score, 1))
end

-- queue_ticket is the ticket the queue holds for a waiting session.
local function queue_ticket(s)
  return tonumber(redis.call('ZSCORE', K_QUEUE, s.id)) or s.ticket
end
