package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
)

// Join implements queue.Store.
func (s *Store) Join(ctx context.Context, p queue.JoinParams) (queue.Session, queue.Place, bool, error) {
	// The session's keys share its event's slot only if the id is the event's.
	if err := p.Check(); err != nil {
		return queue.Session{}, queue.Place{}, false, err
	}
	if err := s.list(ctx, p.EventID, false); err != nil {
		return queue.Session{}, queue.Place{}, false, err
	}
	k := eventKeys(p.EventID, sessionKeyPrefix+p.SessionID, userKeyPrefix+p.UserID)
	ne := p.NewEvent
	args := s.args(k, p.EventID, p.Now,
		p.SessionID, p.UserID, strconv.FormatInt(p.TTL.Milliseconds(), 10),
		ne.State.String(), strconv.FormatInt(ne.MaxConcurrent, 10),
		strconv.FormatInt(ne.CheckoutWindow.Milliseconds(), 10), ne.CheckoutURL, formatLanes(ne.Lanes), p.Lane)
	cctx, cancel := s.call(ctx)
	defer cancel()
	r, err := joinScript.Exec(cctx, s.client, k.list, args).ToArray()
	if err != nil {
		return queue.Session{}, queue.Place{}, false, failed(ctx, err)
	}
	code := replyCode(r)
	switch code {
	case replyClosed:
		return queue.Session{}, queue.Place{}, false, queue.ErrEventClosed
	case replyConflict:
		return queue.Session{}, queue.Place{}, false, &queue.InvalidArgumentError{Field: "session_id", Reason: "already in use"}
	case replyBadLane:
		return queue.Session{}, queue.Place{}, false, &queue.InvalidArgumentError{Field: "lane", Reason: "not a lane of the event"}
	case replyCreated, replyExisting:
		sess, pl, err := sessionPlace(r[1:])
		if err == nil && code == replyCreated && pl.QueueLength == 1 {
			// Nobody else waited, so the event may have had nothing live
			// and been taken off the live list just now (live.go).
			err = s.list(ctx, p.EventID, true)
		}
		return sess, pl, code == replyCreated, err
	}
	return queue.Session{}, queue.Place{}, false, fmt.Errorf("redisstore: join: unexpected reply %q", code)
}

// list adds the event to EventsKey and LiveKey. Before a join's script
// (always false) it makes sure a crash in between can never leave a
// registered event unlisted; it is repeated once per relistEvery per event
// and process, so an event whose listing was lost (Redis restarted without
// persistence, or a set deleted) is listed again and admits again. After a
// join's script (always true) it is the step live.go's ordering needs, and
// is never skipped. SADD is idempotent.
func (s *Store) list(ctx context.Context, eventID string, always bool) error {
	if at, ok := s.listed.Load(eventID); !always && ok && time.Since(at.(time.Time)) < relistEvery {
		return nil
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	c := s.client
	for _, r := range c.DoMulti(cctx, c.B().Sadd().Key(EventsKey).Member(eventID).Build(),
		c.B().Sadd().Key(LiveKey).Member(eventID).Build()) {
		if err := r.Error(); err != nil {
			// A join retried after this fails lists the event before its
			// script again, which is enough for a session that exists.
			s.listed.Delete(eventID)
			return failed(ctx, err)
		}
	}
	s.listed.Store(eventID, time.Now())
	return nil
}

// sadd adds member to the set key.
func (s *Store) sadd(ctx context.Context, key, member string) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.client.Do(cctx, s.client.B().Sadd().Key(key).Member(member).Build()).Error(); err != nil {
		return failed(ctx, err)
	}
	return nil
}

// newRequestID makes a random id for one call (a variable for tests).
var newRequestID = func() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// relistEvery bounds how long a lost event listing goes unrepaired.
var relistEvery = time.Minute

// What happened, as the first element of a script's reply says.
const (
	replyCreated  = "created"  // join: a new session
	replyExisting = "existing" // join: the user's live session, or this id's
	replyClosed   = "closed"   // join: the event is closed
	replyConflict = "conflict" // join: the id is another user's session
	replyOK       = "ok"       // leave, complete: done (now or by this very call)
	replyStatus   = "status"   // leave, complete: refused in this status
	replyLate     = "late"     // complete: refused, the checkout deadline has passed
	replyNotFound = "notfound" // leave, complete: no such session
)

// replyCode is the first element of a script's reply: what happened.
func replyCode(r []rueidis.RedisMessage) string {
	if len(r) == 0 {
		return ""
	}
	code, _ := r[0].ToString()
	return code
}

// sessionPlace decodes {session JSON, rank or -1, queue length, seq, the
// fair start's part, the lanes' part}.
func sessionPlace(r []rueidis.RedisMessage) (queue.Session, queue.Place, error) {
	if len(r) != 4 && len(r) != 8 && len(r) != 12 {
		return queue.Session{}, queue.Place{}, fmt.Errorf("redisstore: unexpected session reply of %d values", len(r))
	}
	raw, _ := r[0].ToString()
	sess, err := decodeSession(raw)
	if err != nil {
		return queue.Session{}, queue.Place{}, err
	}
	rank, _ := r[1].AsInt64()
	qlen, _ := r[2].AsInt64()
	seq, _ := r[3].AsInt64()
	pl := queue.Place{QueueLength: qlen, Seq: uint64(seq)}
	queued := sess.Status == queue.StatusQueued && rank >= 0
	if queued {
		pl.Position = rank + 1
		if len(r) == 12 {
			if pos, ok := lanePosition(r[8:], sess.Lane); ok {
				pl.Position = pos
			}
		}
	}
	if len(r) >= 8 {
		pl = placeFairStart(r[4:]).PlaceOf(sess.Ticket, queued, pl)
	}
	return sess, pl, nil
}

// Session implements queue.Store.
func (s *Store) Session(ctx context.Context, id string) (queue.Session, queue.Place, error) {
	ev := queue.EventOfSession(id)
	k := eventKeys(ev, sessionKeyPrefix+id)
	cctx, cancel := s.call(ctx)
	defer cancel()
	r, err := sessionScript.Exec(cctx, s.client, k.list, s.args(k, ev, time.Time{}, id)).ToArray()
	if rueidis.IsRedisNil(err) {
		return queue.Session{}, queue.Place{}, queue.ErrSessionNotFound
	}
	if err != nil {
		return queue.Session{}, queue.Place{}, failed(ctx, err)
	}
	return sessionPlace(r)
}

// Leave implements queue.Store.
func (s *Store) Leave(ctx context.Context, id string, now time.Time) (queue.Session, error) {
	return s.end(ctx, leaveScript, queue.ErrNotQueued, id, now)
}

// Complete implements queue.Store.
func (s *Store) Complete(ctx context.Context, id string, now time.Time) (queue.Session, error) {
	return s.end(ctx, completeScript, queue.ErrNotAdmitted, id, now)
}

// end runs Leave's or Complete's script, whose replies have the same shape.
func (s *Store) end(ctx context.Context, script *rueidis.Lua, refused error, id string, now time.Time) (queue.Session, error) {
	ev := queue.EventOfSession(id)
	k := eventKeys(ev, sessionKeyPrefix+id)
	cctx, cancel := s.call(ctx)
	defer cancel()
	// A request id lets a re-sent script tell its own earlier success from
	// a second call.
	r, err := script.Exec(cctx, s.client, k.list, s.args(k, ev, now, id, newRequestID())).ToArray()
	if err != nil {
		return queue.Session{}, failed(ctx, err)
	}
	code := replyCode(r)
	if code == replyNotFound {
		return queue.Session{}, queue.ErrSessionNotFound
	}
	if len(r) != 2 {
		return queue.Session{}, fmt.Errorf("redisstore: unexpected reply %q", code)
	}
	raw, _ := r[1].ToString()
	sess, err := decodeSession(raw)
	if err != nil {
		return queue.Session{}, err
	}
	switch code {
	case replyStatus:
		return sess, &queue.StatusError{Err: refused, Status: sess.Status}
	case replyLate:
		// Still ready until Expire ends it, but its window has closed.
		return sess, &queue.StatusError{Err: refused, Status: queue.StatusExpired}
	}
	return sess, nil
}

// Admit implements queue.Store.
func (s *Store) Admit(ctx context.Context, eventID string, now time.Time, limit int) ([]queue.Session, error) {
	if limit <= 0 {
		return nil, nil
	}
	r, err := s.batch(ctx, admitScript, eventID, now, limit)
	if err != nil || len(r) < 2 {
		return nil, err
	}
	return decodeSessions(r[1:])
}

// Expire implements queue.Store. An event it leaves with nothing live is
// taken off the live list (live.go): the processor calls Expire on every
// live event every pass, so an event goes off the list one pass after its
// last session ends and its outbox is relayed.
func (s *Store) Expire(ctx context.Context, eventID string, now time.Time, limit int) ([]queue.Session, error) {
	r, err := s.batch(ctx, expireScript, eventID, now, max(limit, 0))
	if err != nil {
		return nil, err
	}
	if len(r) < 2 {
		return nil, fmt.Errorf("redisstore: unexpected expire reply of %d values", len(r))
	}
	out, err := decodeSessions(r[2:])
	if err != nil {
		return nil, err
	}
	if busy, _ := r[1].AsInt64(); busy == 0 && len(out) < limit {
		return out, s.retire(ctx, eventID, now)
	}
	return out, nil
}

// batch runs Admit's or Expire's script.
func (s *Store) batch(ctx context.Context, script *rueidis.Lua, eventID string, now time.Time, limit int) ([]rueidis.RedisMessage, error) {
	k := eventKeys(eventID)
	cctx, cancel := s.call(ctx)
	defer cancel()
	r, err := script.Exec(cctx, s.client, k.list, s.args(k, eventID, now, strconv.Itoa(limit))).ToArray()
	if err != nil {
		return nil, failed(ctx, err)
	}
	return r, nil
}

// decodeSessions decodes sessions' JSON.
func decodeSessions(r []rueidis.RedisMessage) ([]queue.Session, error) {
	if len(r) == 0 {
		return nil, nil
	}
	out := make([]queue.Session, 0, len(r))
	for _, m := range r {
		raw, _ := m.ToString()
		sess, err := decodeSession(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, nil
}
