package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// Presence keys of an event (lua/admit_common.lua, lua/presence.lua):
//
//	waitroom:{<event>}:present      sorted set: session id, score = present until (Unix ms)
//	waitroom:{<event>}:held         sorted set: held session id, score = HeldUntil (Unix ms)
//	waitroom:{<event>}:back         sorted set: held session id present again, score = ticket
//	waitroom:{<event>}:held_cursor  string: the highest ticket admission has walked past
//
// Every waiting ticket at or below the cursor is held, and everything above
// it was never passed over, so the walk starts at the cursor, and a long run
// of absent sessions is walked past once, not on every call.
const (
	presentKey = "present"
	heldKey    = "held"
	backKey    = "back"
	cursorKey  = "held_cursor"
)

// markChunk is the most ids one presence script marks. Redis serves
// nothing else while a script runs, and marking costs it about 2.6 µs per
// id (BenchmarkMarkPresent): 5,000 hold it some 13 ms.
const markChunk = 5000

// MarkPresent implements queue.PresenceStore: one script call per
// markChunk ids.
func (s *Store) MarkPresent(ctx context.Context, eventID string, ids []string, until time.Time) error {
	if queue.ValidateEventID(eventID) != nil {
		return nil
	}
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if queue.ValidateSessionID(id) == nil && queue.EventOfSession(id) == eventID {
			valid = append(valid, id)
		}
	}
	k := eventKeys(eventID)
	for len(valid) > 0 {
		n := min(len(valid), markChunk)
		if err := s.mark(ctx, k, eventID, until, valid[:n]); err != nil {
			return err
		}
		valid = valid[n:]
	}
	return nil
}

func (s *Store) mark(ctx context.Context, k keys, eventID string, until time.Time, ids []string) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	args := append([]string{ms(until)}, ids...)
	if err := presenceScript.Exec(cctx, s.client, k.list, s.args(k, eventID, time.Time{}, args...)).Error(); err != nil {
		return failed(ctx, err)
	}
	return nil
}

// AdmitPresent implements queue.PresenceStore. A call that holds limit
// absent sessions holds Redis for about 20 µs per session
// (BenchmarkAdmitPresent/pass1000absent); with any number of held places
// ahead, admitting the present sessions behind them costs what admitting
// them alone would (…/behind10000held).
func (s *Store) AdmitPresent(ctx context.Context, eventID string, now time.Time, limit int, p queue.PresenceRule) ([]queue.Session, error) {
	if p.Hold <= 0 {
		return s.Admit(ctx, eventID, now, limit)
	}
	if limit <= 0 {
		return nil, nil
	}
	k := eventKeys(eventID)
	cctx, cancel := s.call(ctx)
	defer cancel()
	a := s.args(k, eventID, now, strconv.Itoa(limit), strconv.FormatInt(max(p.Hold.Milliseconds(), 1), 10),
		strconv.FormatInt(max(p.Grace.Milliseconds(), 0), 10))
	r, err := admitScript.Exec(cctx, s.client, k.list, a).ToArray()
	if err != nil {
		return nil, failed(ctx, err)
	}
	if len(r) < 2 {
		return nil, nil
	}
	return decodeSessions(r[1:])
}

// heldUntil is a stored HeldUntil, kept only while the session is queued.
func heldUntil(st queue.Status, ms int64) time.Time {
	if st != queue.StatusQueued {
		return time.Time{}
	}
	return fromMS(ms)
}
