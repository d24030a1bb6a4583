-- KEYS[9] the placed order's list. ARGV[5] the pre-queue's last ticket and
-- ARGV[6] its size as the caller read them, then ARGV[7..] the placement as
-- ZADD takes it: the pre-queue's tickets ascending, each followed by the
-- session dealt it (the caller orders the sessions: HMAC-SHA256 needs Go).
-- Places the pre-queue if it is due at NOW. Returns {PLACE_DONE, seq,
-- placed}, {PLACE_NOT_DUE} when there is nothing to place (not due, or
-- placed already), or {PLACE_STALE} when the pre-queue grew since the
-- caller read it.
--
-- Only the queue's scores change: rewriting 100,000 session documents would
-- hold Redis for seconds. A waiting session's document keeps its old ticket
-- until it leaves the queue; every script reads a waiting session's ticket
-- from the queue (queued_raw, queue_ticket in the prelude). No session key
-- is touched, so the script runs whole on the event's node.
local fs = fair_start()
if not fs.sale or fs.placed or NOW < fs.sale then return {PLACE_NOT_DUE} end
local n = tonumber(ARGV[6])
if fs.last ~= tonumber(ARGV[5]) or #ARGV ~= 6 + 2 * n then return {PLACE_STALE} end

local batch = 1000 -- pairs: unpack's limit is a few thousand values

-- deal sets the queue's scores and lists the order, from pairs[first..last]
-- (ticket, session, ticket, session, ...).
local function deal(pairs, first, last)
  redis.call('DEL', KEYS[9])
  for from = first, last, 2 * batch do
    local to = math.min(from + 2 * batch - 1, last)
    redis.call('ZADD', K_QUEUE, 'XX', unpack(pairs, from, to))
    local ids = {}
    for i = from + 1, to, 2 do ids[#ids + 1] = pairs[i] end
    redis.call('RPUSH', KEYS[9], unpack(ids))
  end
end

-- The pre-queue's tickets can only leave it (a join that would add one
-- moves last), so the same count means the sessions and tickets the caller
-- read: deal them as given.
local waiting = redis.call('ZCOUNT', K_QUEUE, '(' .. fs.after, fs.last)
if waiting == n then
  deal(ARGV, 7, #ARGV)
else
  -- Some left or expired since: the given sessions still waiting, in the
  -- given order, are dealt the tickets still waiting (their own, as none is
  -- placed yet), ascending. The order is the seed's for them all the same.
  local pairs, tickets = {}, {}
  for from = 8, #ARGV, 2 * batch do
    local ids = {}
    for i = from, math.min(from + 2 * batch - 1, #ARGV), 2 do ids[#ids + 1] = ARGV[i] end
    local scores = redis.call('ZMSCORE', K_QUEUE, unpack(ids))
    for k = 1, #ids do
      local t = tonumber(scores[k])
      if t and t > fs.after and t <= fs.last then
        tickets[#tickets + 1] = t
        pairs[#pairs + 1] = false
        pairs[#pairs + 1] = ids[k]
      end
    end
  end
  if #tickets ~= waiting then return {PLACE_STALE} end
  table.sort(tickets)
  for i, t in ipairs(tickets) do pairs[2 * i - 1] = t end
  n = waiting
  deal(pairs, 1, #pairs)
end
-- Every session keeps its lane: the lanes' sets take the new tickets too.
for _, name in ipairs(event_lanes()) do
  local key = lane_key(name)
  for start = 0, redis.call('ZCARD', key) - 1, batch do
    local ids = redis.call('ZRANGE', key, start, start + batch - 1)
    if #ids > 0 then
      local scores, args = redis.call('ZMSCORE', K_QUEUE, unpack(ids)), {}
      for k = 1, #ids do args[#args + 1], args[#args + 2] = scores[k], ids[k] end
      redis.call('ZADD', key, 'XX', unpack(args))
    end
  end
end
local seq = announce(CHANGE_PLACED, {})
redis.call('HSET', K_EVENT, FIELD_FS_PLACED_AT, NOW, FIELD_FS_PLACED_SEQ, seq, FIELD_FS_PLACED, n)
return {PLACE_DONE, seq, n}
