-- Read-only. Returns {seq, n, ticket × n, then for an event with lanes: its
-- lanes, its round-robin, and per lane its name, its count m and its
-- tickets × m}: the waiting tickets in queue order, read atomically with the
-- seq. O(N): Redis is busy for the whole read (measured in the benchmarks),
-- so replicas call it only to resynchronise. Pages keep Lua's intermediate
-- tables small; only scores are returned.
local out = {current_seq(), 0}
local function scores(key)
  local n = redis.call('ZCARD', key)
  local page = 10000
  for start = 0, n - 1, page do
    local r = redis.call('ZRANGE', key, start, start + page - 1, 'WITHSCORES')
    for k = 2, #r, 2 do out[#out + 1] = tonumber(r[k]) end
  end
  return n
end
out[2] = scores(K_QUEUE)
local names = event_lanes()
if #names > 0 then
  out[#out + 1] = redis.call('HGET', K_EVENT, FIELD_LANES)
  out[#out + 1] = redis.call('HGET', K_EVENT, FIELD_RR) or ''
  for _, name in ipairs(names) do
    out[#out + 1] = name
    local at = #out + 1
    out[at] = 0
    out[at] = scores(lane_key(name))
  end
end
return out
