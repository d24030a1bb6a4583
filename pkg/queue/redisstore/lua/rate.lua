-- The admission-rate token bucket (queue.RateBucket; the rule is in Go,
-- repeated here): at most max(1, rate) tokens, refilled at rate per second,
-- full when fresh. It lives in its own key, so that admissions do not
-- invalidate the cached settings.
local K_RATE = PREFIX .. KEY_RATE

-- rate_cap caps n by the event's admission rate (its settings' field, as
-- read: nil or '0' is unlimited) at NOW; the bucket it returns (nil:
-- unlimited) is what rate_took takes from.
local function rate_cap(n, rate_field)
  local rate = tonumber(rate_field or '0') or 0
  if rate <= 0 then return n, nil end
  local burst = math.max(1, rate)
  local b = redis.call('HMGET', K_RATE, 'tokens', 'at_ms')
  local avail, at = burst, tonumber(b[2])
  if at then avail = math.min(burst, tonumber(b[1]) + rate * math.max(0, NOW - at) / 1000) end
  return math.min(n, math.floor(avail + 1e-9)), {avail = avail, at = at}
end

-- rate_took takes the admissions of an admit reply ({seq, JSON, …} or {})
-- from bucket, and returns the reply.
local function rate_took(bucket, out)
  local k = #out - 1
  if bucket and k > 0 then
    local at = NOW
    if bucket.at and bucket.at > at then at = bucket.at end
    redis.call('HSET', K_RATE, 'tokens', string.format('%.17g', bucket.avail - k), 'at_ms', at)
  end
  return out
end
