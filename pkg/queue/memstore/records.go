package memstore

import (
	"hash/maphash"
	"math"
	"strings"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// Sessions are kept without a single pointer: fixed-size records in chunks,
// found through maps whose keys and values are plain numbers and arrays.
// The garbage collector never looks inside pointer-free memory, so a queue of
// a million costs it nothing to mark, where pointers per session would be
// walked again in every cycle (BenchmarkGCMillionQueued measures it; the
// figures are in BENCHMARKS.md).

// sessionKey is the random part of a session id, "<event>~<26 characters>"
// as queue.NewSessionID makes it; each event has its own map of them.
type sessionKey [26]byte

// keyOf returns the key of a session id of event ev; ok is false when id is
// not shaped like one (as queue.EventOfSession would read it).
func keyOf(ev, id string) (k sessionKey, ok bool) {
	if len(id) != len(ev)+1+len(k) || id[:len(ev)] != ev || id[len(ev)] != '~' ||
		strings.IndexByte(id[len(ev)+1:], '~') >= 0 {
		return k, false
	}
	copy(k[:], id[len(ev)+1:])
	return k, true
}

// Times are kept as Unix nanoseconds, which reach from 1677 to 2262. A time
// outside that range is stored as its end (a deadline set centuries ahead
// stays in the future); MinInt64 itself marks a time not set, as the zero
// time.Time has no Unix time.
const (
	unset   = math.MinInt64
	minNano = math.MinInt64 + 1
	maxNano = math.MaxInt64
)

var (
	minTime = time.Unix(0, minNano)
	maxTime = time.Unix(0, maxNano)
)

func unixNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return unset
	case t.Before(minTime):
		return minNano
	case t.After(maxTime):
		return maxNano
	}
	return t.UnixNano()
}

func timeOf(n int64) time.Time {
	if n == unset {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// addNano is a + d, held within the stored range.
func addNano(a, d int64) int64 {
	switch {
	case d > 0 && a > maxNano-d:
		return maxNano
	case d < 0 && a < minNano-d:
		return minNano
	}
	return a + d
}

// rec is one session. Times are Unix nanoseconds (or unset).
type rec struct {
	ticket     uint64
	joinedAt   int64
	expiresAt  int64
	admittedAt int64
	deadline   int64 // the checkout deadline
	endedAt    int64
	purgeAt    int64 // when an ended session is forgotten
	heapIndex  int32 // the session's place in whichever heap holds it; -1 for none
	status     queue.Status
	userLen    uint8
	lane       uint8 // an index into the event's lane names (lanes.go)
	key        sessionKey
	user       [queue.MaxUserIDLen]byte
}

func (r *rec) userID() string { return string(r.user[:r.userLen]) }

func (r *rec) hasUser(u string) bool { return string(r.user[:r.userLen]) == u }

// handle names a record: its chunk in the high bits, its index in the low.
type handle uint32

const (
	chunkBits = 12
	chunkLen  = 1 << chunkBits
	// The first chunks are smaller, so that an event of a few sessions
	// does not take a whole chunk (~900 KB).
	firstChunkLen = 64
)

// records stores sessions in chunks that never move: growing to a million
// copies nothing (no pause under the store's lock), and a handle stays valid
// until its record is released.
type records struct {
	chunks [][]rec
	used   int // records handed out from the last chunk
	free   []handle
}

func (rs *records) at(h handle) *rec { return &rs.chunks[h>>chunkBits][h&(chunkLen-1)] }

// alloc returns a zeroed record's handle.
func (rs *records) alloc() handle {
	if n := len(rs.free); n > 0 {
		h := rs.free[n-1]
		rs.free = rs.free[:n-1]
		return h
	}
	last := len(rs.chunks) - 1
	if last < 0 || rs.used == len(rs.chunks[last]) {
		size := chunkLen
		if len(rs.chunks) < chunkBits {
			size = min(chunkLen, firstChunkLen<<len(rs.chunks))
		}
		rs.chunks = append(rs.chunks, make([]rec, size))
		rs.used = 0
		last++
	}
	h := handle(last)<<chunkBits | handle(rs.used)
	rs.used++
	return h
}

// release zeroes a record and keeps its handle for reuse.
func (rs *records) release(h handle) {
	*rs.at(h) = rec{}
	rs.free = append(rs.free, h)
}

// liveIndex finds a user's live session. It is keyed by a hash of the user
// id, not the id, so it holds no pointers either; a user whose hash another
// live user already holds goes to a small overflow map instead.
type liveIndex struct {
	hash     func(string) uint64
	byHash   map[uint64]handle
	overflow map[string]handle
}

func newLiveIndex(hash func(string) uint64) liveIndex {
	if hash == nil {
		seed := maphash.MakeSeed()
		hash = func(s string) uint64 { return maphash.String(seed, s) }
	}
	return liveIndex{hash: hash, byHash: map[uint64]handle{}}
}

func (l *liveIndex) get(rs *records, user string) (handle, bool) {
	if h, ok := l.byHash[l.hash(user)]; ok && rs.at(h).hasUser(user) {
		return h, true
	}
	h, ok := l.overflow[user]
	return h, ok
}

// add records h as user's live session; user has none.
func (l *liveIndex) add(user string, h handle) {
	k := l.hash(user)
	if _, taken := l.byHash[k]; !taken {
		l.byHash[k] = h
		return
	}
	if l.overflow == nil {
		l.overflow = map[string]handle{}
	}
	l.overflow[user] = h
}

func (l *liveIndex) remove(rs *records, user string) {
	k := l.hash(user)
	if h, ok := l.byHash[k]; ok && rs.at(h).hasUser(user) {
		delete(l.byHash, k)
		return
	}
	delete(l.overflow, user)
}
