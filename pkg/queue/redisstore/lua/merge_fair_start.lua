-- merge_fair_start merges a fair start as queue.MergeFairStart does: never
-- removed (sale '' keeps it), fixed once placed, and the seed and the
-- pre-queue's first ticket only the first time.
local function merge_fair_start(sale, seed)
  local fs = fair_start()
  if sale == '' or fs.placed then return end
  if not fs.sale then
    local last = redis.call('GET', K_TICKETS) or '0'
    redis.call('HSET', K_EVENT, FIELD_FS_SEED, seed, FIELD_FS_AFTER, last, FIELD_FS_LAST, last)
  end
  redis.call('HSET', K_EVENT, FIELD_FS_SALE, sale)
end
