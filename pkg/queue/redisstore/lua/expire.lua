-- ARGV[5] limit. Ends, as expired, at most limit sessions: first held ones
-- whose HeldUntil <= now and that are absent then (a present one is given a
-- respite: its HeldUntil moves to the end of its presence), then queued
-- ones whose ExpiresAt <= now and admitted ones whose CheckoutDeadline <=
-- now, earliest first (queued first on a tie). Each expired session's
-- change says why (reason). Returns {seq or 0, busy, JSON, JSON, …}: busy
-- is how many live sessions and outbox entries the event has left, so that
-- the caller can take an idle event off the live list (live.go).
local function busy()
  return redis.call('ZCARD', K_QUEUE) + redis.call('SCARD', K_PROCESSING) + redis.call('XLEN', K_OUTBOX)
end
local limit = tonumber(ARGV[5])
if limit <= 0 then return {0, busy()} end

-- Choose, and read everything the choice needs, before any write (see
-- CLUSTER in the prelude).
local picks, n, picked = {}, 0, {}
-- Held sessions that did not come back first (lua/admit_common.lua); one
-- present now keeps its place until its presence ends (a respite). An
-- entry of a session no longer held is dropped.
local h = redis.call('ZRANGEBYSCORE', K_HELD, '-inf', NOW, 'WITHSCORES', 'LIMIT', 0, limit)
local respites = {}
for k = 1, #h, 2 do
  local s = load_listed(h[k])
  local p = {id = h[k], held = true, reason = REASON_ABSENT}
  local until_ms = tonumber(redis.call('ZSCORE', K_PRESENT, h[k]) or '0')
  if s and s.status == STATUS_QUEUED and s.held_until_ms == tonumber(h[k + 1]) then
    if until_ms > NOW then
      s.held_until_ms = until_ms
      respites[#respites + 1] = s
      p.skip = true
    else
      p.s, p.owned, p.queued = s, owns_user(s), true
      p.ticket = redis.call('ZSCORE', K_QUEUE, h[k])
      n = n + 1
      picked[p.id] = true
    end
  end
  picks[#picks + 1] = p
end

local q = redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', NOW, 'WITHSCORES', 'LIMIT', 0, limit)
local a = redis.call('ZRANGEBYSCORE', K_DEADLINES, '-inf', NOW, 'WITHSCORES', 'LIMIT', 0, limit)
local i, j = 1, 1
while n < limit and (i <= #q or j <= #a) do
  local queued = j > #a or (i <= #q and tonumber(q[i + 1]) <= tonumber(a[j + 1]))
  local p = {queued = queued, reason = queued and REASON_QUEUE_TTL or REASON_CHECKOUT_WINDOW}
  if queued then
    p.id = q[i]
    i = i + 2
    p.ticket = redis.call('ZSCORE', K_QUEUE, p.id)
  else
    p.id = a[j]
    j = j + 2
  end
  local s = not picked[p.id] and load_listed(p.id)
  if picked[p.id] then
    p.skip = true -- expiring above, as absent
  elseif s and s.status == (queued and STATUS_QUEUED or STATUS_READY) then
    p.s, p.owned = s, owns_user(s)
    n = n + 1
  elseif p.ticket then
    n = n + 1 -- a queue entry without its session: dropped, and said so
  end
  picks[#picks + 1] = p
end

local changed, out = {}, {0, 0}
for _, s in ipairs(respites) do
  save_live(s)
  redis.call('ZADD', K_HELD, s.held_until_ms, s.id)
end
for _, p in ipairs(picks) do
  if p.skip then
    -- Given a respite, or the same session expiring above as absent.
  elseif p.held and not p.s then
    redis.call('ZREM', K_HELD, p.id) -- a stale entry: no longer held
  else
    if p.queued then
      redis.call('ZREM', K_QUEUE, p.id)
      lane_unqueue(p.s)
      redis.call('ZREM', K_EXPIRY, p.id)
    else
      redis.call('SREM', K_PROCESSING, p.id)
      redis.call('ZREM', K_DEADLINES, p.id)
    end
    if p.s then
      if p.ticket then p.s.ticket = tonumber(p.ticket) end -- a placement may have dealt it a new one
      out[#out + 1] = finish(p.s, STATUS_EXPIRED, p.owned)
      p.s.reason = p.reason
      changed[#changed + 1] = p.s
    elseif p.ticket then
      -- A queue entry without its session: drop it and say so (see admit.lua).
      changed[#changed + 1] = {id = p.id, user_id = '', ticket = tonumber(p.ticket), status = STATUS_EXPIRED}
    end
  end
end
if #changed == 0 then return {0, busy()} end
out[1] = announce(CHANGE_EXPIRED, changed)
out[2] = busy()
return out
