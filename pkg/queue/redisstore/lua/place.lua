-- KEYS[9] the placed order's list. ARGV[5] the pre-queue's last ticket and
-- ARGV[6] its size as the caller read them, then ARGV[7..] the placement as
-- ZADD takes it: the pre-queue's tickets ascending, each followed by the
-- session dealt it (the caller orders the sessions: HMAC-SHA256 needs Go).
-- Places the pre-queue if it is due at NOW. Returns {PLACE_DONE, seq,
-- placed}, {PLACE_NOT_DUE} when there is nothing to place (not due, or
-- placed already), or {PLACE_STALE} when the pre-queue changed since the
-- caller read it.
--
-- The pre-queue's tickets can only leave it (a join that would add one
-- moves last), so the same last and the same count mean the same sessions
-- on the same tickets as the caller read.
--
-- Only the queue's scores change: rewriting 100,000 session documents would
-- hold Redis for seconds. A waiting session's document keeps its old ticket
-- until it leaves the queue; every script reads a waiting session's ticket
-- from the queue (queued_raw, queue_ticket in the prelude). No session key
-- is touched, so the script runs whole on the event's node.
local fs = fair_start()
if not fs.sale or fs.placed or NOW < fs.sale then return {PLACE_NOT_DUE} end
local n = tonumber(ARGV[6])
if fs.last ~= tonumber(ARGV[5]) or #ARGV ~= 6 + 2 * n or
  redis.call('ZCOUNT', K_QUEUE, '(' .. fs.after, fs.last) ~= n then
  return {PLACE_STALE}
end

redis.call('DEL', KEYS[9])
local batch = 1000 -- pairs: unpack's limit is a few thousand values
for from = 7, #ARGV, 2 * batch do
  local to = math.min(from + 2 * batch - 1, #ARGV)
  redis.call('ZADD', K_QUEUE, 'XX', unpack(ARGV, from, to))
  local ids = {}
  for i = from + 1, to, 2 do ids[#ids + 1] = ARGV[i] end
  redis.call('RPUSH', KEYS[9], unpack(ids))
end
local seq = announce(CHANGE_PLACED, {})
redis.call('HSET', K_EVENT, FIELD_FS_PLACED_AT, NOW, FIELD_FS_PLACED_SEQ, seq, FIELD_FS_PLACED, n)
return {PLACE_DONE, seq, n}
