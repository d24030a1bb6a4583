-- ARGV[5] state, [6] max concurrent, [7] checkout window ms, [8] URL.
-- Replaces the event's settings; announces nothing (no session changed).
redis.call('HSET', K_EVENT, 'id', EVENT, 'state', ARGV[5], 'max_concurrent', ARGV[6],
  'checkout_window_ms', ARGV[7], 'checkout_url', ARGV[8])
return 'OK'
