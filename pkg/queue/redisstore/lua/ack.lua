-- KEYS[1] the outbox stream; ARGV[1] the consumer group, ARGV[2..] entry ids.
-- Acknowledges and deletes relayed entries together, so an entry can never be
-- acknowledged (never handed out again) yet still counted by OutboxLen.
-- Unknown ids and a missing group are ignored: acks may be retried. Ids go
-- 1,000 at a time: Lua's unpack stops at about 8,000 values.
local deleted = 0
for i = 2, #ARGV, 1000 do
  local last = math.min(i + 999, #ARGV)
  redis.pcall('XACK', KEYS[1], ARGV[1], unpack(ARGV, i, last))
  deleted = deleted + redis.call('XDEL', KEYS[1], unpack(ARGV, i, last))
end
return deleted
