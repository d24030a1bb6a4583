-- Admission's shared steps (lua/admit.lua), and presence-aware admission:
-- held sessions present again first, then a walk from the cursor that
-- admits present sessions and holds absent ones, passing over at most
-- limit of them.

-- admit_loaded admits the sessions head lists ({id, ticket, …}), loaded
-- before any write and already out of the queue, and announces them.
local function admit_loaded(head, loaded, window)
  local deadline = NOW + window
  local changed, out = {}, {0}
  for i = 1, #head, 2 do
    local id = head[i]
    redis.call('ZREM', K_EXPIRY, id)
    local s = loaded[i]
    if s then
      unhold(s)
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
end

-- marked says whether a presence mark covers id now.
local function marked(id)
  local until_ms = redis.call('ZSCORE', K_PRESENT, id)
  return until_ms and tonumber(until_ms) > NOW
end

-- choose picks at most n sessions to admit ({id, ticket, …}) and the
-- absent ones to hold, reading only; a session is present if marked, or
-- for grace after it joined. It loads every session it picks (loaded, by
-- id), before any write (see CLUSTER in the prelude).
local function choose(n, limit, grace)
  local picks, holds, seen, loaded = {}, {}, {}, {}
  -- Held sessions present again (lua/presence.lua marks them) come first.
  local back = redis.call('ZRANGE', K_BACK, 0, n + limit - 1, 'WITHSCORES')
  for i = 1, #back, 2 do
    if #picks / 2 >= n then break end
    local id = back[i]
    seen[#seen + 1] = id
    if marked(id) and redis.call('ZSCORE', K_HELD, id) and redis.call('ZSCORE', K_QUEUE, id) then
      picks[#picks + 1], picks[#picks + 2] = id, back[i + 1]
      loaded[id] = load_listed(id) or false
    end
  end
  local cursor = redis.call('GET', K_CURSOR) or '0'
  local want = n - #picks / 2
  if want > 0 then
    local next = redis.call('ZRANGEBYSCORE', K_QUEUE, '(' .. cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, want + limit)
    for i = 1, #next, 2 do
      if #picks / 2 >= n or #holds / 2 >= limit then break end
      local id = next[i]
      cursor = next[i + 1]
      local s = load_listed(id) or false
      loaded[id] = s
      local here = marked(id) or (s and s.joined_at_ms + grace > NOW)
      local list = here and picks or holds
      list[#list + 1], list[#list + 2] = id, next[i + 1]
    end
  end
  return picks, holds, seen, cursor, loaded
end

-- admit_present is presence-aware admission of at most n sessions.
local function admit_present(n, limit, hold, grace, window)
  local picks, holds, seen, cursor, byID = choose(n, limit, grace)
  for _, id in ipairs(seen) do redis.call('ZREM', K_BACK, id) end
  redis.call('SET', K_CURSOR, cursor)
  -- Presence that has ended is of no more use.
  redis.call('ZREMRANGEBYSCORE', K_PRESENT, '-inf', NOW)
  local until_ms = NOW + hold
  for i = 1, #holds, 2 do
    local s = byID[holds[i]]
    if s then
      s.ticket = tonumber(holds[i + 1]) -- a placement may have dealt it a new one
      s.held_until_ms = until_ms
      save_live(s)
      redis.call('ZADD', K_HELD, until_ms, s.id)
    end
  end
  if #picks == 0 then return {} end
  local loaded = {}
  for i = 1, #picks, 2 do
    loaded[i] = byID[picks[i]]
    redis.call('ZREM', K_QUEUE, picks[i])
  end
  return admit_loaded(picks, loaded, window)
end
