-- Reads what an event's figures are made of (queue.StatsStore.Figures),
-- atomically. Returns {} for an unknown event, else {settings, queue
-- length, processing, seq, figures, waits, streams}: settings, figures and
-- streams as flat field/value lists.
if redis.call('EXISTS', K_EVENT) == 0 then return {} end
return {redis.call('HGETALL', K_EVENT), redis.call('ZCARD', K_QUEUE), redis.call('SCARD', K_PROCESSING),
  current_seq(), redis.call('HGETALL', K_STATS), redis.call('LRANGE', K_WAITS, 0, -1),
  redis.call('HGETALL', PREFIX .. KEY_STREAMS)}
