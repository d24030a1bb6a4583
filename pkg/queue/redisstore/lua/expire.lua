-- ARGV[5] limit. Ends, as expired, queued sessions whose ExpiresAt <= now and
-- admitted ones whose CheckoutDeadline <= now, earliest first (queued first on
-- a tie), at most limit. Returns {seq, JSON, JSON, …} or {}.
local limit = tonumber(ARGV[5])
if limit <= 0 then return {} end
local q = redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', NOW, 'WITHSCORES', 'LIMIT', 0, limit)
local a = redis.call('ZRANGEBYSCORE', K_DEADLINES, '-inf', NOW, 'WITHSCORES', 'LIMIT', 0, limit)

local changed, out = {}, {0}
local i, j = 1, 1
while #changed < limit and (i <= #q or j <= #a) do
  local queued = j > #a or (i <= #q and tonumber(q[i + 1]) <= tonumber(a[j + 1]))
  local id, ticket
  if queued then
    id = q[i]
    i = i + 2
    ticket = redis.call('ZSCORE', K_QUEUE, id)
    redis.call('ZREM', K_QUEUE, id)
    redis.call('ZREM', K_EXPIRY, id)
  else
    id = a[j]
    j = j + 2
    redis.call('SREM', K_PROCESSING, id)
    redis.call('ZREM', K_DEADLINES, id)
  end
  local s = load(id)
  if s and s.status == (queued and 'queued' or 'ready') then
    out[#out + 1] = finish(s, 'expired')
    changed[#changed + 1] = s
  elseif ticket then
    -- A queue entry without its session: drop it and say so (see admit.lua).
    changed[#changed + 1] = {id = id, user_id = '', ticket = tonumber(ticket), status = 'expired'}
  end
end
if #changed == 0 then return {} end
out[1] = announce('session_expired', changed)
return out
