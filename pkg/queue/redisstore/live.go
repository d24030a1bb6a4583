package redisstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
)

// LiveKey is the set of live events: those with live sessions or outbox
// entries, the only ones a processor pass and the relay visit.
const LiveKey = "waitroom:live"

// IdleKey is the sorted set of idle events a join registered, scored by
// when they went idle (Unix ms): ForgetIdle reads the due ones from its head.
const IdleKey = "waitroom:idle"

// What lua/idle.lua found.
const (
	idleGone      = "gone"      // the event has no settings
	idleKept      = "kept"      // an operator's event: never forgotten
	idleWaiting   = "waiting"   // a join's event, idle, not yet due
	idleForgotten = "forgotten" // deleted just now
)

// The live set is kept apart from the events' keys: in a Redis Cluster it
// lives in its own slot, so no event's script can update it in the same
// atomic step as the change. Instead the writes around the scripts are
// ordered so that an event with a live session or an outbox entry is
// always in LiveKey, but for the crash repaired by the sweep:
//
//   - Adding is always safe. A join adds its event before its script (once
//     a relistEvery per event and process: list) and, when its new session
//     is the only one waiting (the event may have had none live, and a
//     remover may have just taken it off), again after the script.
//   - Only retire removes, and only in three steps: SREM, then lua/idle.lua
//     reads the event atomically, then SADD again if it found anything live.
//     Changes other than joins only happen to an event with a live session,
//     so they cannot make an idle event busy; a join J and a retire R race:
//     if J's script ran before R's read, R sees J's session and adds the
//     event back; if after, J found nobody waiting (R's read found nobody
//     live), so J adds the event after its script, after R's SREM. Either
//     way the event ends in LiveKey. Two retires interleave the same way.
//   - Forgetting takes the event out of EventsKey the same way: delete the
//     keys (idle.lua), SREM, then add it back if a join has registered it
//     again meanwhile; such a join found nobody waiting, so it adds the
//     event to both sets after its script anyway.
//
// What these steps cannot cover is a process dying between two of them (a
// join between its script and its second SADD while a retire ran, or a
// retire between SREM and SADD): sweep re-reads, slowly and in bounded
// pages, every event of EventsKey that is not in LiveKey and lists it again
// if it has anything live.

// Sweep pacing: each process looks at sweepPage events of EventsKey every
// sweepEvery, so a deployment of 10,000 events is swept in about 8 minutes
// and an idle one costs Redis at most 20 reads a second per process.
var (
	sweepEvery = 5 * time.Second
	sweepPage  = 100
)

// LiveEvents implements queue.Store: SMEMBERS of LiveKey, and the events'
// settings (from the client-side cache when fresh).
func (s *Store) LiveEvents(ctx context.Context) ([]queue.Event, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	ids, err := s.client.Do(cctx, s.client.B().Smembers().Key(LiveKey).Build()).AsStrSlice()
	if err != nil {
		return nil, failed(ctx, err)
	}
	evs, missing, err := s.settingsOf(cctx, ids)
	if err != nil {
		return nil, failed(ctx, err)
	}
	// Listed by a join whose script never ran, or forgotten since: nothing
	// to process, so nothing to keep listed. A deleted event's unrelayed
	// outbox entries keep it listed, with zero settings, until relayed.
	for _, id := range missing {
		busy, err := s.retireBusy(ctx, id, time.Now())
		if err != nil {
			return nil, err
		}
		if busy {
			evs = append(evs, queue.Event{ID: id})
		}
	}
	if len(missing) > 0 {
		slices.SortFunc(evs, func(a, b queue.Event) int { return cmp.Compare(a.ID, b.ID) })
	}
	return evs, nil
}

// retire takes an event that seemed idle off LiveKey, and puts it back if
// it is not (see above); an idle event a join registered goes to IdleKey.
func (s *Store) retire(ctx context.Context, eventID string, now time.Time) error {
	_, err := s.retireBusy(ctx, eventID, now)
	return err
}

// retireBusy is retire that says whether the event was put back.
func (s *Store) retireBusy(ctx context.Context, eventID string, now time.Time) (busy bool, err error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.client.Do(cctx, s.client.B().Srem().Key(LiveKey).Member(eventID).Build()).Error(); err != nil {
		return false, failed(ctx, err)
	}
	r := s.idle(cctx, eventID, now, "")
	if r.err != nil {
		return false, failed(ctx, r.err)
	}
	return r.code == "", s.file(cctx, ctx, eventID, r)
}

// idleResult is lua/idle.lua's answer.
type idleResult struct {
	busy   int64
	code   string
	idleAt int64
	err    error
}

func (s *Store) idle(ctx context.Context, eventID string, now time.Time, idleFor string) idleResult {
	k := eventKeys(eventID)
	r, err := idleScript.Exec(ctx, s.client, k.list, s.args(k, eventID, now, idleFor)).ToArray()
	if err != nil {
		return idleResult{err: err}
	}
	var res idleResult
	if len(r) > 0 {
		res.busy, _ = r[0].AsInt64()
	}
	if len(r) > 1 {
		res.code, _ = r[1].ToString()
	}
	if len(r) > 2 {
		res.idleAt, _ = r[2].AsInt64()
	}
	if res.busy == 0 && res.code == "" {
		return idleResult{err: fmt.Errorf("redisstore: unexpected idle reply of %d values", len(r))}
	}
	return res
}

// file puts an event where lua/idle.lua's answer says it belongs: LiveKey
// when busy, IdleKey while a join's event waits to be forgotten, and out of
// both sets (but EventsKey, checked again) once forgotten.
func (s *Store) file(cctx, ctx context.Context, eventID string, r idleResult) error {
	c := s.client
	var cmds rueidis.Commands
	switch r.code {
	case "": // busy
		cmds = append(cmds, c.B().Sadd().Key(LiveKey).Member(eventID).Build())
	case idleWaiting:
		cmds = append(cmds, c.B().Zadd().Key(IdleKey).ScoreMember().ScoreMember(float64(r.idleAt), eventID).Build())
	case idleKept, idleGone:
		cmds = append(cmds, c.B().Zrem().Key(IdleKey).Member(eventID).Build())
	case idleForgotten:
		cmds = append(cmds, c.B().Zrem().Key(IdleKey).Member(eventID).Build(),
			c.B().Srem().Key(EventsKey).Member(eventID).Build())
		s.listed.Delete(eventID)
	}
	for _, res := range c.DoMulti(cctx, cmds...) {
		if err := res.Error(); err != nil {
			return failed(ctx, err)
		}
	}
	if r.code != idleForgotten {
		return nil
	}
	n, err := c.Do(cctx, c.B().Exists().Key(prefix(eventID)+eventKey).Build()).AsInt64()
	if err == nil && n > 0 {
		err = c.Do(cctx, c.B().Sadd().Key(EventsKey).Member(eventID).Build()).Error()
	}
	if err != nil {
		return failed(ctx, err)
	}
	return nil
}

// ForgetIdle implements queue.Store: the events at the head of IdleKey that
// are due are forgotten by lua/idle.lua, which checks again, atomically,
// that each is still idle. It also runs a page of the sweep when one is due.
func (s *Store) ForgetIdle(ctx context.Context, now time.Time, idleFor time.Duration, limit int) (int, error) {
	if err := s.sweep(ctx, now); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	due := strconv.FormatInt(now.Add(-idleFor).UnixMilli(), 10)
	ids, err := s.client.Do(cctx, s.client.B().Zrangebyscore().Key(IdleKey).Min("-inf").Max(due).
		Limit(0, int64(limit)).Build()).AsStrSlice()
	if err != nil {
		return 0, failed(ctx, err)
	}
	results := s.each(cctx, ids, func(id string) idleResult {
		return s.idle(cctx, id, now, strconv.FormatInt(idleFor.Milliseconds(), 10))
	})
	forgotten := 0
	for i, r := range results {
		if r.err == nil {
			r.err = s.file(cctx, ctx, ids[i], r)
		}
		if r.err != nil {
			return forgotten, failed(ctx, r.err)
		}
		if r.code == idleForgotten {
			forgotten++
		}
	}
	return forgotten, nil
}

// each runs f for every id at once: the client pipelines the calls.
func (s *Store) each(ctx context.Context, ids []string, f func(string) idleResult) []idleResult {
	out := make([]idleResult, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { out[i] = f(id) })
	}
	wg.Wait()
	return out
}

// sweep re-reads, once per sweepEvery, the next page of EventsKey's events
// that are not in LiveKey, and files each where it belongs: an event with
// anything live is listed again (after a crash between the steps above, or
// when the data predates LiveKey), and a join's idle event waits in IdleKey.
func (s *Store) sweep(ctx context.Context, now time.Time) error {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	// Paced by this process's clock, not by now, which tests move at will.
	if wall := time.Now(); wall.Before(s.sweepAt) {
		return nil
	} else {
		s.sweepAt = wall.Add(sweepEvery)
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	c := s.client
	e, err := c.Do(cctx, c.B().Sscan().Key(EventsKey).Cursor(s.sweepCursor).Count(int64(sweepPage)).Build()).AsScanEntry()
	if err != nil {
		return failed(ctx, err)
	}
	s.sweepCursor = e.Cursor
	if len(e.Elements) == 0 {
		return nil
	}
	member, err := c.Do(cctx, c.B().Smismember().Key(LiveKey).Member(e.Elements...).Build()).AsIntSlice()
	if err != nil {
		return failed(ctx, err)
	}
	var idle []string
	for i, id := range e.Elements {
		if i < len(member) && member[i] == 0 {
			idle = append(idle, id)
		}
	}
	for i, r := range s.each(cctx, idle, func(id string) idleResult { return s.idle(cctx, id, now, "") }) {
		if r.err == nil && r.code != idleKept && r.code != idleGone {
			r.err = s.file(cctx, ctx, idle[i], r)
		}
		if r.err != nil {
			return failed(ctx, r.err)
		}
	}
	return nil
}
