-- ARGV[5] state, [6] max concurrent, [7] checkout window ms, [8] URL, [9]
-- sale_starts_at ms or '', [10] a fresh seed.
-- Replaces the event's settings; announces nothing (no session changed).
-- An operator's event is never forgotten, even one a join registered.
put_settings(ARGV[5], ARGV[6], ARGV[7], ARGV[8])
redis.call('HDEL', K_EVENT, FIELD_AUTO)
-- The fair start, merged as queue.MergeFairStart does: never removed, fixed
-- once placed, and the seed and the pre-queue's first ticket only the first time.
local fs = fair_start()
if ARGV[9] ~= '' and not fs.placed then
  if not fs.sale then
    local last = redis.call('GET', K_TICKETS) or '0'
    redis.call('HSET', K_EVENT, FIELD_FS_SEED, ARGV[10], FIELD_FS_AFTER, last, FIELD_FS_LAST, last)
  end
  redis.call('HSET', K_EVENT, FIELD_FS_SALE, ARGV[9])
end
return 'OK'
