-- ARGV[5] limit; ARGV[6] hold ms and ARGV[7] join grace ms, optional: a
-- hold > 0 passes over absent sessions (lua/admit_common.lua). Admits from
-- the head of the queue while the processing set is below the event's
-- capacity and its admission rate allows (lua/rate.lua). Returns {seq,
-- JSON, JSON, …} or {}.
local ev = redis.call('HMGET', K_EVENT, FIELD_STATE, FIELD_MAX_CONCURRENT, FIELD_CHECKOUT_WINDOW, FIELD_RATE)
if ev[1] ~= STATE_ACTIVE then return {} end
if fair_holding() then return {} end -- an event whose pre-queue is not placed admits nobody
local n, bucket = rate_cap(math.min(tonumber(ARGV[5]), tonumber(ev[2]) - redis.call('SCARD', K_PROCESSING)), ev[4])
if n <= 0 then return {} end
local names, weights = event_lanes()
if #names > 0 then
  -- An event with lanes admits by the round-robin, present or not
  -- (queue/lane.go): the draws first, reading only, then the writes.
  local counts, st, order, take = lane_counts(names), rr_read(#names), {}, {}
  for _ = 1, n do
    local j = lane_next(st, weights, counts)
    if not j then break end
    counts[j] = counts[j] - 1
    order[#order + 1] = j
    take[j] = (take[j] or 0) + 1
  end
  if #order == 0 then return {} end
  local heads, used, head = {}, {}, {}
  for j, c in pairs(take) do heads[j] = redis.call('ZRANGE', lane_key(names[j]), 0, c - 1, 'WITHSCORES') end
  for _, j in ipairs(order) do
    used[j] = (used[j] or 0) + 1
    head[#head + 1], head[#head + 2] = heads[j][2 * used[j] - 1], heads[j][2 * used[j]]
  end
  local loaded = {}
  for i = 1, #head, 2 do loaded[i] = load_listed(head[i]) or false end
  for j, c in pairs(take) do redis.call('ZPOPMIN', lane_key(names[j]), c) end
  for i = 1, #head, 2 do redis.call('ZREM', K_QUEUE, head[i]) end
  rr_write(st)
  return rate_took(bucket, admit_loaded(head, loaded, tonumber(ev[3])))
end
local hold = tonumber(ARGV[6] or '0') or 0
if hold > 0 then return rate_took(bucket, admit_present(n, tonumber(ARGV[5]), hold, tonumber(ARGV[7]), tonumber(ev[3]))) end
local head = redis.call('ZRANGE', K_QUEUE, 0, n - 1, 'WITHSCORES')
if #head == 0 then return {} end
-- Every session first, before any write (see CLUSTER in the prelude).
local loaded = {}
for i = 1, #head, 2 do loaded[i] = load_listed(head[i]) or false end
redis.call('ZPOPMIN', K_QUEUE, #head / 2)
return rate_took(bucket, admit_loaded(head, loaded, tonumber(ev[3])))
