
-- Priority lanes (queue/lane.go; the round-robin of package lanes, repeated
-- here). An event's lanes are FIELD_LANES, "name:weight,name:weight" in
-- order, the first the default; each lane's waiting sessions are a sorted
-- set by ticket, like the queue, under the event's tag; the round-robin's
-- state is FIELD_RR, "<set>|<current>,<current>,…", where set is the
-- non-empty lanes it belongs to, lane i (from 1) counting 2^(i-1).
local function lane_key(name) return PREFIX .. KEY_LANE .. name end

-- event_lanes returns the event's lane names and weights ({} and {}
-- without lanes).
local function event_lanes()
  local names, weights = {}, {}
  local raw = redis.call('HGET', K_EVENT, FIELD_LANES)
  if raw then
    for name, w in string.gmatch(raw, '([^:,]+):(%d+)') do
      names[#names + 1], weights[#weights + 1] = name, tonumber(w)
    end
  end
  return names, weights
end

-- lane_counts is how many wait in each lane.
local function lane_counts(names)
  local counts = {}
  for i, name in ipairs(names) do counts[i] = redis.call('ZCARD', lane_key(name)) end
  return counts
end

-- lane_unqueue takes s out of its lane as it leaves the queue.
local function lane_unqueue(s)
  if s and s.lane then redis.call('ZREM', lane_key(s.lane), s.id) end
end

-- rr_read is the round-robin's state for n lanes.
local function rr_read(n)
  local st = {set = -1, cur = {}}
  local raw = redis.call('HGET', K_EVENT, FIELD_RR)
  if raw then
    local set, list = string.match(raw, '^(%d+)|(.*)$')
    st.set = tonumber(set) or -1
    for c in string.gmatch(list or '', '(-?%d+)') do st.cur[#st.cur + 1] = tonumber(c) end
  end
  if #st.cur ~= n then st.set, st.cur = -1, {} end
  return st
end

local function rr_write(st)
  local cur = {}
  for i, c in ipairs(st.cur) do cur[i] = string.format('%d', c) end
  redis.call('HSET', K_EVENT, FIELD_RR, string.format('%d', st.set) .. '|' .. table.concat(cur, ','))
end

-- lane_next draws the next lane (its index) among the non-empty lanes of
-- counts, updating st; nil when every lane is empty. Values start again
-- from zero when the set of non-empty lanes is not the one st belongs to.
local function lane_next(st, weights, counts)
  local set = 0
  for i, c in ipairs(counts) do
    if c > 0 then set = set + 2 ^ (i - 1) end
  end
  if set == 0 then return nil end
  if st.set ~= set or #st.cur ~= #weights then
    st.set, st.cur = set, {}
    for i = 1, #weights do st.cur[i] = 0 end
  end
  local total, best = 0, nil
  for i, w in ipairs(weights) do
    if counts[i] > 0 then
      total = total + w
      st.cur[i] = st.cur[i] + w
      if not best or st.cur[i] > st.cur[best] then best = i end
    end
  end
  st.cur[best] = st.cur[best] - total
  return best
end

-- lane_reply is what session replies append for Go to compute a lane-aware
-- position (lanes.Plan): the lanes, the state, the counts and s's rank in
-- its lane, or empty strings and -1.
local function lane_reply(s)
  if not s or not s.lane or s.status ~= STATUS_QUEUED then return {'', '', '', -1} end
  local raw = redis.call('HGET', K_EVENT, FIELD_LANES)
  if not raw then return {'', '', '', -1} end
  local names = event_lanes()
  return {raw, redis.call('HGET', K_EVENT, FIELD_RR) or '', table.concat(lane_counts(names), ','),
    redis.call('ZRANK', lane_key(s.lane), s.id) or -1}
end

-- with_place appends the fair start's and the lanes' parts of a session
-- reply to t.
local function with_place(t, s)
  local a, b, c, d = fair_place_reply()
  t[#t + 1], t[#t + 2], t[#t + 3], t[#t + 4] = a, b, c, d
  for _, v in ipairs(lane_reply(s)) do t[#t + 1] = v end
  return t
end

-- lanes_check applies the rule on changing lanes (queue.CheckLaneChange)
-- for the new lanes raw: true if allowed, after which the change is made
-- and the round-robin restarts.
local function lanes_set(raw)
  local old = redis.call('HGET', K_EVENT, FIELD_LANES) or ''
  if raw == old then return true end
  local keep = {}
  for name in string.gmatch(raw, '([^:,]+):%d+') do keep[name] = true end
  local names = event_lanes()
  if #names == 0 then
    if raw ~= '' and redis.call('ZCARD', K_QUEUE) > 0 then return false end
  end
  for _, name in ipairs(names) do
    if not keep[name] and redis.call('ZCARD', lane_key(name)) > 0 then return false end
  end
  if raw == '' then redis.call('HDEL', K_EVENT, FIELD_LANES) else redis.call('HSET', K_EVENT, FIELD_LANES, raw) end
  redis.call('HDEL', K_EVENT, FIELD_RR)
  return true
end
