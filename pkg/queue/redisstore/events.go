package redisstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
)

// PutEvent implements queue.Store.
func (s *Store) PutEvent(ctx context.Context, e queue.Event) (queue.Event, error) {
	// Listed first (a different slot, so not in the script): a crash between
	// the two leaves a listed id without settings, which Events skips. Not
	// in LiveKey: settings alone give a processor nothing to do.
	if err := s.sadd(ctx, EventsKey, e.ID); err != nil {
		return queue.Event{}, err
	}
	k := eventKeys(e.ID)
	args := s.args(k, e.ID, time.Time{}, e.State.String(), strconv.FormatInt(e.MaxConcurrent, 10),
		strconv.FormatInt(e.CheckoutWindow.Milliseconds(), 10), e.CheckoutURL)
	args = append(args, fairStartArgs(e.FairStart)...)
	args = append(args, formatRate(e.AdmissionRate), formatLanes(e.Lanes))
	cctx, cancel := s.call(ctx)
	defer cancel()
	r := putEventScript.Exec(cctx, s.client, k.list, args)
	// Marked even on error: the script may have run.
	s.wrote(e.ID)
	if err := r.Error(); err != nil {
		return queue.Event{}, failed(ctx, err)
	}
	if code, _ := r.ToString(); code == replyLanesInUse {
		return queue.Event{}, queue.ErrLanesInUse
	}
	if !e.FairStart.On() {
		return e, nil
	}
	// The fair start as merged (queue.MergeFairStart), read back.
	return s.storedFairStart(cctx, e)
}

// Event implements queue.Store. The settings come from the client-side cache
// when they are there (Redis invalidates them when they change); the counts
// always from Redis.
func (s *Store) Event(ctx context.Context, id string) (queue.Event, queue.EventStats, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	r := s.settings(cctx, id)
	if err := r.Error(); err != nil {
		return queue.Event{}, queue.EventStats{}, failed(ctx, err)
	}
	e, ok, err := decodeEvent(id, r)
	if err != nil {
		return queue.Event{}, queue.EventStats{}, err
	}
	if !ok {
		return queue.Event{}, queue.EventStats{}, queue.ErrEventNotFound
	}
	p := prefix(id)
	c := s.client
	rs := c.DoMulti(cctx,
		c.B().Zcard().Key(p+queueKey).Build(),
		c.B().Scard().Key(p+processingKey).Build(),
		c.B().Get().Key(p+seqKey).Build())
	var st queue.EventStats
	if st.QueueLength, err = rs[0].AsInt64(); err != nil {
		return queue.Event{}, queue.EventStats{}, failed(ctx, err)
	}
	if st.Processing, err = rs[1].AsInt64(); err != nil {
		return queue.Event{}, queue.EventStats{}, failed(ctx, err)
	}
	seq, err := rs[2].AsUint64()
	if err != nil && !rueidis.IsRedisNil(err) {
		return queue.Event{}, queue.EventStats{}, failed(ctx, err)
	}
	st.Seq = seq
	return e, st, nil
}

// settings reads an event's settings hash, through the cache if it is on.
func (s *Store) settings(ctx context.Context, id string) rueidis.RedisResult {
	cmd := s.client.B().Hgetall().Key(prefix(id) + eventKey)
	if !s.cacheable(id) {
		return s.client.Do(ctx, cmd.Build())
	}
	r := s.client.DoCache(ctx, cmd.Cache(), s.cacheTTL)
	if cachedMiss(r) {
		return s.client.Do(ctx, s.client.B().Hgetall().Key(prefix(id)+eventKey).Build())
	}
	return r
}

// The cache is invalidated by the server, but the invalidation of a key a
// script or command changed reaches the client just after that command's
// reply, even on the same connection: for a moment a cached read misses the
// write that was just acknowledged. So settings this store has just written
// are read from Redis, and so is every cached "no such event" (the first
// join registers it; unknown events are rare and cheap to re-read).
const writeSettle = time.Second

func (s *Store) wrote(id string) { s.written.Store(id, time.Now().Add(writeSettle)) }

func (s *Store) cacheable(id string) bool {
	if s.cacheTTL <= 0 {
		return false
	}
	v, ok := s.written.Load(id)
	if !ok {
		return true
	}
	if time.Now().Before(v.(time.Time)) {
		return false
	}
	s.written.CompareAndDelete(id, v)
	return true
}

func cachedMiss(r rueidis.RedisResult) bool {
	m, err := r.AsStrMap()
	return err == nil && len(m) == 0 && r.IsCacheHit()
}

// Events implements queue.Store.
func (s *Store) Events(ctx context.Context) ([]queue.Event, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	ids, err := s.client.Do(cctx, s.client.B().Smembers().Key(EventsKey).Build()).AsStrSlice()
	if err != nil {
		return nil, failed(ctx, err)
	}
	// Listed without settings: a crash between listing and the first
	// script. Nothing to show.
	evs, _, err := s.settingsOf(cctx, ids)
	if err != nil {
		return nil, failed(ctx, err)
	}
	return evs, nil
}

// settingsOf reads the settings of events, through the cache where it is
// on, and returns them ordered by id; missing are the ids without settings.
func (s *Store) settingsOf(ctx context.Context, ids []string) (evs []queue.Event, missing []string, err error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	rs := make([]rueidis.RedisResult, len(ids))
	have := make([]bool, len(ids))
	var cached []rueidis.CacheableTTL
	var cachedAt []int
	for i, id := range ids {
		if s.cacheable(id) {
			cached = append(cached, rueidis.CT(s.client.B().Hgetall().Key(prefix(id)+eventKey).Cache(), s.cacheTTL))
			cachedAt = append(cachedAt, i)
		}
	}
	if len(cached) > 0 {
		for j, r := range s.client.DoMultiCache(ctx, cached...) {
			if !cachedMiss(r) {
				rs[cachedAt[j]], have[cachedAt[j]] = r, true
			}
		}
	}
	var direct rueidis.Commands
	var directAt []int
	for i, id := range ids {
		if !have[i] {
			direct = append(direct, s.client.B().Hgetall().Key(prefix(id)+eventKey).Build())
			directAt = append(directAt, i)
		}
	}
	if len(direct) > 0 {
		for j, r := range s.client.DoMulti(ctx, direct...) {
			rs[directAt[j]] = r
		}
	}
	evs = make([]queue.Event, 0, len(ids))
	for i, id := range ids {
		if err := rs[i].Error(); err != nil {
			return nil, nil, err
		}
		e, ok, err := decodeEvent(id, rs[i])
		if err != nil {
			return nil, nil, err
		}
		if ok {
			evs = append(evs, e)
		} else {
			missing = append(missing, id)
		}
	}
	slices.SortFunc(evs, func(a, b queue.Event) int { return cmp.Compare(a.ID, b.ID) })
	return evs, missing, nil
}

// The fields of an event's settings hash.
const (
	fieldID             = "id"
	fieldState          = "state" // queue.EventState.String()
	fieldMaxConcurrent  = "max_concurrent"
	fieldCheckoutWindow = "checkout_window_ms"
	fieldCheckoutURL    = "checkout_url"
	// fieldAuto is "1" while the settings are those a join registered, not
	// an operator's (PutEvent deletes it): only such an event is forgotten.
	fieldAuto = "auto"
	// fieldIdleSeq and fieldIdleAt say since when (Unix ms) the event has
	// been idle at that seq (lua/idle.lua).
	fieldIdleSeq = "idle_seq"
	fieldIdleAt  = "idle_at_ms"
)

// decodeEvent decodes a successful read of an event's settings hash; ok is
// false when there is none.
func decodeEvent(id string, r rueidis.RedisResult) (e queue.Event, ok bool, err error) {
	m, err := r.AsStrMap()
	if err != nil {
		return queue.Event{}, false, fmt.Errorf("redisstore: event %s: %w", id, err)
	}
	return eventOf(id, m)
}

// eventOf decodes an event's settings hash; ok is false when it is empty.
func eventOf(id string, m map[string]string) (e queue.Event, ok bool, err error) {
	if len(m) == 0 {
		return queue.Event{}, false, nil
	}
	// A state this version does not know reads as the zero state, which
	// admits nobody, rather than failing every listing of the events.
	st, _ := parseState(m[fieldState])
	maxc, err1 := strconv.ParseInt(m[fieldMaxConcurrent], 10, 64)
	win, err2 := strconv.ParseInt(m[fieldCheckoutWindow], 10, 64)
	if err1 != nil || err2 != nil {
		return queue.Event{}, false, fmt.Errorf("redisstore: event %s has malformed settings %v", id, m)
	}
	fs, err := decodeFairStart(m)
	if err != nil {
		return queue.Event{}, false, fmt.Errorf("redisstore: event %s: %w", id, err)
	}
	rate, err := decodeRate(m)
	if err != nil {
		return queue.Event{}, false, fmt.Errorf("redisstore: event %s: admission rate: %w", id, err)
	}
	ls, err := parseLanes(m[fieldLanes])
	if err != nil {
		return queue.Event{}, false, err
	}
	return queue.Event{
		ID:             id,
		State:          st,
		MaxConcurrent:  maxc,
		CheckoutWindow: time.Duration(win) * time.Millisecond,
		CheckoutURL:    m[fieldCheckoutURL],
		FairStart:      fs,
		AdmissionRate:  rate,
		Lanes:          ls,
	}, true, nil
}
