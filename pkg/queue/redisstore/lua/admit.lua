-- ARGV[5] limit. Admits from the head of the queue while the processing set
-- is below the event's capacity. Returns {seq, JSON, JSON, …} or {}.
local ev = redis.call('HMGET', K_EVENT, FIELD_STATE, FIELD_MAX_CONCURRENT, FIELD_CHECKOUT_WINDOW)
if ev[1] ~= STATE_ACTIVE then return {} end
if fair_holding() then return {} end -- an event whose pre-queue is not placed admits nobody
local n = math.min(tonumber(ARGV[5]), tonumber(ev[2]) - redis.call('SCARD', K_PROCESSING))
if n <= 0 then return {} end
local head = redis.call('ZRANGE', K_QUEUE, 0, n - 1, 'WITHSCORES')
if #head == 0 then return {} end
-- Every session first, before any write (see CLUSTER in the prelude).
local loaded = {}
for i = 1, #head, 2 do loaded[i] = load_listed(head[i]) or false end
redis.call('ZPOPMIN', K_QUEUE, #head / 2)

local deadline = NOW + tonumber(ev[3])
local changed, out = {}, {0}
for i = 1, #head, 2 do
  local id = head[i]
  redis.call('ZREM', K_EXPIRY, id)
  local s = loaded[i]
  if s then
    s.ticket = tonumber(head[i + 1]) -- a placement may have dealt it a new one
    s.status = STATUS_READY
    s.admitted_at_ms = NOW
    s.checkout_deadline_ms = deadline
    out[#out + 1] = save_live(s)
    redis.call('SADD', K_PROCESSING, id)
    redis.call('ZADD', K_DEADLINES, deadline, id)
  else
    -- A queue entry without its session (only possible if someone deleted
    -- it by hand): drop it, and say so, so replicas' views stay exact.
    s = {id = id, user_id = '', ticket = tonumber(head[i + 1]), status = STATUS_EXPIRED}
  end
  changed[#changed + 1] = s
end
out[1] = announce(CHANGE_ADMITTED, changed, deadline)
return out
