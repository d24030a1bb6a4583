-- KEYS[9] the placed order's list. ARGV[5] the pre-queue's last ticket as the
-- caller read it, ARGV[6..] the pre-queue's session ids as it read them, in
-- their fair order (queue.FairOrder: HMAC-SHA256 needs Go). Places the
-- pre-queue if it is due at NOW: the pre-queue's waiting tickets, ascending,
-- are dealt to its sessions in the given order. Returns {PLACE_DONE, seq, placed},
-- {PLACE_NOT_DUE} when there is nothing to place (not due, or placed
-- already), or {PLACE_STALE} when the pre-queue grew since the caller read it.
local fs = fair_start()
if not fs.sale or fs.placed or NOW < fs.sale then return {PLACE_NOT_DUE} end
if fs.last ~= tonumber(ARGV[5]) then return {PLACE_STALE} end

-- The pre-queue's waiting sessions now: those read, less any that left or
-- expired since (none can have joined: last is unchanged).
local range = redis.call('ZRANGEBYSCORE', K_QUEUE, '(' .. fs.after, fs.last, 'WITHSCORES')
local waiting, tickets = {}, {}
for i = 1, #range, 2 do
  waiting[range[i]] = true
  tickets[#tickets + 1] = tonumber(range[i + 1])
end
local order, loaded = {}, {}
for i = 6, #ARGV do
  local id = ARGV[i]
  if waiting[id] then
    order[#order + 1] = id
    -- Every session first, before any write (see CLUSTER).
    loaded[#order] = load_listed(id) or false
  end
end
if #order ~= #tickets then return {PLACE_STALE} end

for i, id in ipairs(order) do
  redis.call('ZADD', K_QUEUE, tickets[i], id)
  local s = loaded[i]
  if s then
    s.ticket = tickets[i]
    save_live(s)
  end
end
redis.call('DEL', KEYS[9])
for i = 1, #order, 1000 do
  redis.call('RPUSH', KEYS[9], unpack(order, i, math.min(i + 999, #order)))
end
local seq = announce(CHANGE_PLACED, {})
redis.call('HSET', K_EVENT, FIELD_FS_PLACED_AT, NOW, FIELD_FS_PLACED_SEQ, seq, FIELD_FS_PLACED, #order)
return {PLACE_DONE, seq, #order}
