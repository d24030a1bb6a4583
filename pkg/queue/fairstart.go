package queue

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"time"
)

// SeedSize is the length of a fair start's seed in bytes.
const SeedSize = 32

// FairStart is an event's fair start. Joins before SaleStartsAt take tickets
// as usual but form the pre-queue: nobody of the event is admitted until it
// is placed, and its sessions' positions stay hidden. Placement, at or after
// SaleStartsAt, deals the pre-queue's own tickets again among its sessions
// in the order FairOrder(Seed, their ids) gives, so the waiting set keeps the
// same tickets and every later join, whose ticket is higher, stays behind.
//
// The rules, kept the same by every store (Redis's scripts repeat them):
//   - sale_starts_at can be moved while the pre-queue is unplaced, never
//     removed: a PutEvent without it keeps it (MergeFairStart);
//   - once placed, the fair start is history: PutEvent keeps it as it is;
//   - a join is a pre-queue join when its now is before SaleStartsAt and its
//     ticket is the next after Last (JoinsPreQueue), so the pre-queue is one
//     run of tickets, closed by the first join at or after the start;
//   - a pre-queue session waits SessionTTL from the start, not from its join;
//   - one that leaves or expires before placement is simply not placed;
//   - placement happens whatever the event's state: pausing or closing still
//     holds admission as always, but the order is fixed and the seed revealed.
type FairStart struct {
	// SaleStartsAt is when the pre-queue is placed; zero: no fair start.
	SaleStartsAt time.Time
	// Seed is the secret the order derives from: SeedSize random bytes in
	// lowercase hex. The store keeps it; the API shows it only once PlacedAt
	// is set.
	Seed string
	// After is the event's last ticket when sale_starts_at was first set:
	// the pre-queue holds the tickets after it, up to Last.
	After uint64
	// Last is the pre-queue's last ticket; After while it is empty.
	Last uint64
	// PlacedAt is when the pre-queue was placed; zero until then.
	PlacedAt time.Time
	// PlacedSeq is the change sequence number of the placement.
	PlacedSeq uint64
	// Placed is how many sessions the placement placed.
	Placed int64
}

// On reports whether the event has a fair start.
func (f FairStart) On() bool { return !f.SaleStartsAt.IsZero() }

// IsPlaced reports whether the pre-queue has been placed.
func (f FairStart) IsPlaced() bool { return !f.PlacedAt.IsZero() }

// Holds reports whether ticket is one of the pre-queue's: the session joined
// the pre-queue (and, once placed, was dealt a ticket of it).
func (f FairStart) Holds(ticket uint64) bool { return f.On() && ticket > f.After && ticket <= f.Last }

// Holding reports whether admission is held for the pre-queue: the event
// has a fair start that is not placed yet.
func (f FairStart) Holding() bool { return f.On() && !f.IsPlaced() }

// JoinsPreQueue reports whether a join at now that takes ticket joins the
// pre-queue.
func (f FairStart) JoinsPreQueue(now time.Time, ticket uint64) bool {
	return f.Holding() && now.Before(f.SaleStartsAt) && ticket == f.Last+1
}

// Due reports whether the pre-queue should be placed at now.
func (f FairStart) Due(now time.Time) bool { return f.Holding() && !now.Before(f.SaleStartsAt) }

// Commitment is the lowercase hex SHA-256 of the seed's bytes; empty
// without one.
func (f FairStart) Commitment() string {
	if f.Seed == "" {
		return ""
	}
	return SeedCommitment(f.seedBytes())
}

func (f FairStart) seedBytes() []byte {
	b, _ := hex.DecodeString(f.Seed) // the service made it; a bad one orders by its text
	if b == nil {
		b = []byte(f.Seed)
	}
	return b
}

// Order is the pre-queue's order for ids under this fair start's seed.
func (f FairStart) Order(ids []string) []string { return FairOrder(f.seedBytes(), ids) }

// Permutation is FairPermutation under this fair start's seed.
func (f FairStart) Permutation(ids []string) []int { return FairPermutation(f.seedBytes(), ids) }

// MergeFairStart is the fair start PutEvent stores, given the stored one,
// the one it was handed (whose Seed is a fresh one, used only when
// sale_starts_at is set for the first time) and the event's last ticket.
func MergeFairStart(stored, given FairStart, lastTicket uint64) FairStart {
	switch {
	case stored.IsPlaced() || !given.On():
		return stored
	case !stored.On():
		return FairStart{SaleStartsAt: given.SaleStartsAt, Seed: given.Seed, After: lastTicket, Last: lastTicket}
	}
	stored.SaleStartsAt = given.SaleStartsAt
	return stored
}

// NewSeed returns a fresh random seed, in hex.
func NewSeed() string {
	b := make([]byte, SeedSize)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather)
	return hex.EncodeToString(b)
}

// SeedCommitment is the lowercase hex SHA-256 of seed.
func SeedCommitment(seed []byte) string {
	h := sha256.Sum256(seed)
	return hex.EncodeToString(h[:])
}

// ShuffleKey is a session's sort key in a fair start: HMAC-SHA256(seed, id).
func ShuffleKey(seed []byte, sessionID string) []byte {
	m := hmac.New(sha256.New, seed)
	m.Write([]byte(sessionID))
	return m.Sum(nil)
}

// FairOrder returns ids sorted by ShuffleKey(seed, id), smallest first (ids
// break ties, which never happen in practice): the pre-queue's order, first
// in line first. It is the documented rule `waitroom verify-shuffle` checks.
func FairOrder(seed []byte, ids []string) []string {
	out := make([]string, len(ids))
	for i, j := range FairPermutation(seed, ids) {
		out[i] = ids[j]
	}
	return out
}

// FairPermutation is FairOrder as indices: the i-th in line is ids[p[i]].
func FairPermutation(seed []byte, ids []string) []int {
	type keyed struct {
		key [sha256.Size]byte
		i   int
	}
	ks := make([]keyed, len(ids))
	m := hmac.New(sha256.New, seed)
	for i, id := range ids {
		m.Reset()
		io.WriteString(m, id)
		m.Sum(ks[i].key[:0])
		ks[i].i = i
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := bytes.Compare(a.key[:], b.key[:]); c != 0 {
			return c
		}
		return strings.Compare(ids[a.i], ids[b.i])
	})
	p := make([]int, len(ks))
	for i, k := range ks {
		p[i] = k.i
	}
	return p
}

// FairStarter is implemented by stores that run fair starts. Every store of
// this module does; it is apart from Store so that a Store written without
// it still builds, and the processor skips placement for it.
type FairStarter interface {
	// PlacePreQueue places the event's pre-queue if it is due at now (see
	// FairStart.Due), atomically: every queued pre-queue session is dealt
	// its ticket in FairOrder, PlacedAt, PlacedSeq and Placed are set, and
	// one ChangePlaced (with no sessions: the waiting tickets are the same)
	// is announced. It returns the event's fair start and whether this call
	// placed it; a call that finds nothing due changes nothing, so replicas
	// racing to place make exactly one placement.
	PlacePreQueue(ctx context.Context, eventID string, now time.Time) (FairStart, bool, error)
	// PreQueue returns the placed sessions' ids in their new queue order
	// (nil before placement); ErrEventNotFound if the event is unknown.
	PreQueue(ctx context.Context, eventID string) ([]string, error)
}

// FairStartInfo is a fair start as the API shows it: the seed only once
// placed, and never the order (Store.PreQueue lists it).
type FairStartInfo struct {
	SaleStartsAt   time.Time
	SeedCommitment string
	PlacedAt       time.Time
	Placed         int64
	// Seed is empty until placed.
	Seed string
}

// Info is the fair start as the API shows it; nil without a fair start.
func (f FairStart) Info() *FairStartInfo {
	if !f.On() {
		return nil
	}
	i := &FairStartInfo{SaleStartsAt: f.SaleStartsAt, SeedCommitment: f.Commitment(), PlacedAt: f.PlacedAt, Placed: f.Placed}
	if f.IsPlaced() {
		i.Seed = f.Seed
	}
	return i
}

// PlaceOf applies the fair start to the place of a session holding ticket:
// a pre-queue session's place is marked, and while it is queued and the
// pre-queue unplaced, its position is hidden.
func (f FairStart) PlaceOf(ticket uint64, queued bool, pl Place) Place {
	if !f.Holds(ticket) {
		return pl
	}
	pl.PreQueue = true
	if queued && !f.IsPlaced() {
		pl.Unplaced = true
		pl.Position = pl.QueueLength
	}
	return pl
}
