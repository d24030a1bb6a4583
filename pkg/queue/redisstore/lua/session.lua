-- Read-only. KEYS[9] session. ARGV[5] session id.
-- Returns nil, or {session JSON, rank or -1, queue length, seq, fair start
-- sale, after, last, placed, then the lanes' part (lua/lanes.lua)}, read
-- atomically.
local raw = redis.call('GET', KEYS[9])
if not raw then return false end
local rank = redis.call('ZRANK', K_QUEUE, ARGV[5])
if rank then raw = queued_raw(ARGV[5], raw) end
-- The document is decoded only for a session with a lane.
local s = rank and string.find(raw, '"lane":', 1, true) and cjson.decode(raw) or nil
return with_place({raw, rank or -1, redis.call('ZCARD', K_QUEUE), current_seq()}, s)
