package queue

import "time"

// View is what a visitor sees of their session at one moment: the payload of
// JoinQueue, GetQueueStatus and every stream message.
type View struct {
	Session Session
	// Position is 1-based while queued, 0 otherwise.
	Position    int64
	QueueLength int64
	// EstimatedWait is 0 when unknown or when not queued.
	EstimatedWait time.Duration
	UpdatedAt     time.Time
	// CheckoutToken and CheckoutURL are set when the session is Ready.
	CheckoutToken string
	CheckoutURL   string
	// Heartbeat marks a stream's keep-alive: nothing changed since the
	// stream's last state, which this repeats.
	Heartbeat bool
	// HeartbeatInterval is set on a stream's first state when the stream
	// sends heartbeats: how long it stays silent at most before one.
	HeartbeatInterval time.Duration
	// FairStart is set for a session of a fair start's pre-queue: the
	// event's fair start (its Seed only once placed).
	FairStart *FairStartInfo
	// MovedBack says the position is further back than the stream's last
	// one: a higher-weight lane grew ahead of the session (lane.go).
	MovedBack bool
	// ChangedAt is when the oldest change this state is the first to show
	// was made (Change.At); zero for a state no change caused (a stream's
	// first state, a heartbeat, a refreshed estimate).
	ChangedAt time.Time
}
