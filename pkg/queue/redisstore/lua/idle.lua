-- ARGV[5] idleFor in ms, or '' to look only. Called once an event seems to
-- have nothing live left, and for events due to be forgotten (live.go).
-- Returns {busy} while the event has live sessions or outbox entries (busy
-- > 0). Otherwise {0, IDLE_GONE} when it has no settings, or {0, code,
-- idle_at}: IDLE_KEPT for an operator's event (never forgotten),
-- IDLE_WAITING for a join's event idle since idle_at (Unix ms), and
-- IDLE_FORGOTTEN once it has been idle for idleFor: then every key of the
-- event is deleted but its seq, so that the event, joined again, numbers its
-- changes after the last one it ever announced. Ended sessions keep their
-- own expiry. Idle since is when this script first saw the event idle at its
-- current seq: any change since starts the wait again.
local busy = redis.call('ZCARD', K_QUEUE) + redis.call('SCARD', K_PROCESSING) + redis.call('XLEN', K_OUTBOX)
if busy > 0 then return {busy} end
local ev = redis.call('HMGET', K_EVENT, FIELD_STATE, FIELD_AUTO, FIELD_IDLE_SEQ, FIELD_IDLE_AT)
if not ev[1] then return {0, IDLE_GONE} end
local seq = current_seq()
local idle_at = tonumber(ev[4])
if tonumber(ev[3]) ~= seq or not idle_at then
  idle_at = NOW
  redis.call('HSET', K_EVENT, FIELD_IDLE_SEQ, seq, FIELD_IDLE_AT, idle_at)
end
if ev[2] ~= '1' then return {0, IDLE_KEPT, idle_at} end
if ARGV[5] == '' or idle_at + tonumber(ARGV[5]) > NOW then return {0, IDLE_WAITING, idle_at} end
redis.call('DEL', K_EVENT, K_QUEUE, K_PROCESSING, K_DEADLINES, K_EXPIRY, K_TICKETS, K_OUTBOX)
redis.call('DEL', K_PRESENT, K_HELD, K_BACK, K_CURSOR, K_STATS, K_WAITS, PREFIX .. KEY_STREAMS)
return {0, IDLE_FORGOTTEN, idle_at}
