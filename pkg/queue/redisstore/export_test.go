package redisstore

import "time"

// SetRelistEvery shortens how often an event's listing is repaired, for a
// test; it returns a func that restores it.
func SetRelistEvery(d time.Duration) func() {
	old := relistEvery
	relistEvery = d
	return func() { relistEvery = old }
}
