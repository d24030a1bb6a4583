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

// MarkPresent implements queue.PresenceStore: one script call, whatever
// the number of ids.
func (s *Store) MarkPresent(ctx context.Context, eventID string, ids []string, until time.Time) error {
	args := make([]string, 0, 1+len(ids))
	args = append(args, ms(until))
	for _, id := range ids {
		if queue.ValidateSessionID(id) == nil && queue.EventOfSession(id) == eventID {
			args = append(args, id)
		}
	}
	if len(args) == 1 || queue.ValidateEventID(eventID) != nil {
		return nil
	}
	k := eventKeys(eventID)
	cctx, cancel := s.call(ctx)
	defer cancel()
	if err := presenceScript.Exec(cctx, s.client, k.list, s.args(k, eventID, time.Time{}, args...)).Error(); err != nil {
		return failed(ctx, err)
	}
	return nil
}

// AdmitPresent implements queue.PresenceStore.
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
