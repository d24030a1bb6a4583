package redisstore

import "time"

// SetRelistEvery shortens how often an event's listing is repaired, for a
// test; it returns a func that restores it.
func SetRelistEvery(d time.Duration) func() {
	old := relistEvery
	relistEvery = d
	return func() { relistEvery = old }
}

// SetRequestID makes every call use one request id, as a client re-sending
// the same call would; it returns a func that restores random ids.
func SetRequestID(id string) func() {
	old := newRequestID
	newRequestID = func() string { return id }
	return func() { newRequestID = old }
}

// SetSweep changes how often and how many events the sweep looks at, for a
// test; it returns a func that restores them.
func SetSweep(every time.Duration, page int) func() {
	oldEvery, oldPage := sweepEvery, sweepPage
	sweepEvery, sweepPage = every, page
	return func() { sweepEvery, sweepPage = oldEvery, oldPage }
}

// SetAfterPlacementRead runs f between a placement's read of the pre-queue
// and its script; it returns a func that removes it.
func SetAfterPlacementRead(f func()) func() {
	afterPlacementRead = f
	return func() { afterPlacementRead = nil }
}
