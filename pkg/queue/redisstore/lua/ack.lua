-- KEYS[1] the outbox stream; ARGV[1] the consumer group, ARGV[2..] entry ids.
-- Acknowledges and deletes relayed entries together, so an entry can never be
-- acknowledged (never handed out again) yet still counted by OutboxLen.
-- Unknown ids and a missing group are ignored: acks may be retried.
redis.pcall('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
