-- Read-only. Returns {seq, ticket, ticket, …}: the waiting tickets in queue
-- order, read atomically with the seq. O(N): Redis is busy for the whole read
-- (measured in the benchmarks), so replicas call it only to resynchronise.
-- Pages keep Lua's intermediate tables small; only scores are returned.
local out = {current_seq()}
local n = redis.call('ZCARD', K_QUEUE)
local page = 10000
for start = 0, n - 1, page do
  local r = redis.call('ZRANGE', K_QUEUE, start, start + page - 1, 'WITHSCORES')
  for k = 2, #r, 2 do out[#out + 1] = tonumber(r[k]) end
end
return out
