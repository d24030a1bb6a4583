// Package queuetest is the contract suite every queue.Store must pass, in the
// manner of testing/fstest: a store's own test calls
//
//	func TestContract(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T) queue.Store { return newStoreFor(t) })
//	}
//
// and, when the store can be built with an outbox (queue.Outbox),
//
//	queuetest.RunOutbox(t, func(t *testing.T) queue.Store { return newStoreWithOutboxFor(t) })
//
// Run checks everything in queue.Store's doc comments; RunOutbox checks
// queue.Outbox and fails if the store does not implement it.
//
// How newStore is called:
//   - Each subtest calls newStore with its own *testing.T, once or more. Every
//     call within one subtest must return a handle on the SAME state, like two
//     replicas on one Redis; the concurrency subtest drives two handles at
//     once. Cleanup registered on the t it is given runs when the subtest ends.
//   - Subtests use fresh random event ids (and session ids made from them), so
//     a store may share one server, and its data, across all subtests. The
//     suite never needs an empty store: Events is checked for order and for
//     the suite's own events only. The ForgetIdle subtests pass times hours
//     ahead, so they also forget other subtests' idle events, which are done
//     with by then.
//
// The suite passes explicit times: a base of time.Now() truncated to the
// millisecond, plus whole milliseconds, so a store that keeps milliseconds
// round-trips them exactly (times are compared with time.Time.Equal). Outbox
// claim idleness is the only real time it waits for (tens of milliseconds).
//
// Changes are observed through Subscribe. The suite waits (up to a generous
// limit) for the changes it expects, and proves a no-op announced nothing by
// checking that the next real change has the next sequence number, so it
// works over asynchronous pub/sub without sleeping. Pub/sub may drop
// messages in general; on a healthy test server it must not.
//
// Run it under -race. It takes a few seconds.
package queuetest

import (
	"testing"

	"github.com/waitroom/waitroom/pkg/queue"
)

// Run runs the Store contract suite against the stores newStore returns.
func Run(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T) queue.Store)
	}{
		{"JoinFIFO", testJoinFIFO},
		{"JoinRegistersEvent", testJoinRegistersEvent},
		{"JoinIdempotent", testJoinIdempotent},
		{"JoinClosedEvent", testJoinClosedEvent},
		{"JoinRefusesBadIDs", testJoinRefusesBadIDs},
		{"SessionNotFound", testSessionNotFound},
		{"Leave", testLeave},
		{"Complete", testComplete},
		{"CompleteLate", testCompleteLate},
		{"Admit", testAdmit},
		{"AdmitHeldByState", testAdmitHeldByState},
		{"ExpireQueued", testExpireQueued},
		{"ExpireAdmitted", testExpireAdmitted},
		{"ExpireLimit", testExpireLimit},
		{"Changes", testChanges},
		{"NoOpsAnnounceNothing", testNoOps},
		{"Snapshot", testSnapshot},
		{"Events", testEvents},
		{"PositionsStayExact", testPositionsStayExact},
		{"Ping", testPing},
		{"Concurrency", testConcurrency},
		{"ConcurrentJoins", testConcurrentJoins},
		{"ConcurrentAdmits", testConcurrentAdmits},
		{"LiveEvents", testLiveEvents},
		{"ForgetIdle", testForgetIdle},
		{"LiveNeverForgotten", testLiveNeverForgotten},
		{"OperatorEventsKept", testOperatorEventsKept},
		{"LiveListRace", testLiveListRace},
		{"PresenceSkipsAbsentHead", testPresenceSkipsAbsentHead},
		{"PresenceHeldComeBackFirst", testPresenceHeldComeBackFirst},
		{"PresenceHeldExpire", testPresenceHeldExpire},
		{"PresenceHeldBackNotExpired", testPresenceHeldBackNotExpired},
		{"PresenceWalkBounded", testPresenceWalkBounded},
		{"PresenceMarks", testPresenceMarks},
		{"PresenceJoinGrace", testPresenceJoinGrace},
		{"PresenceOffAdmitsHeld", testPresenceOffAdmitsHeld},
		{"ExpiryReasons", testExpiryReasons},
		{"FairStartPermutation", testFairStartPermutation},
		{"FairStartReproducible", testFairStartReproducible},
		{"FairStartLaterArrivals", testFairStartLaterArrivals},
		{"FairStartSettings", testFairStartSettings},
		{"FairStartAnnounced", testFairStartAnnounced},
		{"FairStartRace", testFairStartRace},
		{"LaneWeights", testLaneWeights},
		{"LanePositions", testLanePositions},
		{"LaneJoin", testLaneJoin},
		{"LaneChange", testLaneChange},
		{"LanesFairStart", testLanesFairStart},
		{"LanesAdmitPresent", testLanesAdmitPresent},
		{"LaneConcurrentAdmits", testLaneConcurrentAdmits},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
	t.Run("Admin", func(t *testing.T) { RunAdmin(t, newStore) })
	t.Run("Stats", func(t *testing.T) { RunStats(t, newStore) })
}

// RunOutbox runs the Outbox contract suite. The stores newStore returns must
// implement queue.Outbox and record every change (be built with an outbox).
func RunOutbox(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T) queue.Store)
	}{
		{"RecordsEveryChange", testOutboxRecords},
		{"ClaimAndAck", testOutboxClaimAck},
		{"Takeover", testOutboxTakeover},
		{"LateCompleteRecordsNothing", testOutboxLateComplete},
		{"KeepsEventLive", testOutboxKeepsEventLive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
	t.Run("Admin", func(t *testing.T) { RunAdminOutbox(t, newStore) })
}
