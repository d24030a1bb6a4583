-- ARGV[5] state, [6] max concurrent, [7] checkout window ms, [8] URL.
-- Replaces the event's settings; announces nothing (no session changed).
put_settings(ARGV[5], ARGV[6], ARGV[7], ARGV[8])
return 'OK'
