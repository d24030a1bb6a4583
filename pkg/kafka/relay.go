package kafka

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/waitroom/waitroom/pkg/queue"
)

// Relay publishes the store's outbox to Kafka. Each entry is claimed under
// the relay's claimant name, produced, and acked in the store only once the
// broker has acknowledged it, so an entry is never lost: a failed produce
// keeps it, and a relay that dies leaves its claims to be taken over after
// MinIdle. One event's entries are produced in Seq order, one batch at a
// time, by one relay at a time: the store hands an event's outbox to one
// claimant while its claims are fresh (queue.Outbox), so relays on several
// replicas share the events, not the entries of one.
type Relay struct {
	store  RelayStore
	client *kgo.Client
	cfg    RelayConfig
	log    *slog.Logger

	// Only Run's goroutine touches the per-event state.
	events   map[string]*eventRelay
	order    []string
	inflight int                  // records handed to the client and not yet answered
	purgedAt map[string]time.Time // by topic: see forgetRecreated

	// results carries produce answers from franz-go's promise goroutine,
	// which must never block, to Run.
	resMu   sync.Mutex
	results []produceResult
	resCh   chan struct{}
	// wakeCh, woken and wakeAll carry wakes from any goroutine to Run.
	wakeCh  chan struct{}
	wakeMu  sync.Mutex
	woken   map[string]bool // events to poll at once
	wakeAll bool

	statsMu sync.Mutex
	stats   RelayStats
	// outage is true from a failure until the next fully successful batch; it
	// keeps the log to one line per outage plus the periodic backlog line.
	outage bool
	// refused is true once an outage was found to be the brokers refusing
	// this client, which was then logged as an error.
	refused        bool
	failuresLogged uint64
}

type entryState uint8

const (
	stateClaimed  entryState = iota // ours, waiting to be produced
	stateInflight                   // handed to the client, no answer yet
	stateProduced                   // the broker has it; not yet acked in the store
)

type heldEntry struct {
	entry     queue.OutboxEntry
	claimedAt time.Time
	state     entryState
}

type eventRelay struct {
	id       string
	held     map[string]*heldEntry // by outbox entry id
	inflight int                   // answers still due for the current batch
	failed   bool                  // a record of the current batch failed
	sentAt   time.Time             // when the current batch was handed over
	nextPoll time.Time
	idle     time.Duration // current empty-outbox poll interval
	backoff  time.Duration // current failure backoff; 0 while healthy
}

type produceResult struct {
	ev    *eventRelay
	he    *heldEntry
	topic string
	err   error
}

// NewRelay returns a relay from store's outbox to client. The client should
// come from NewProducerClient (acks from all in-sync replicas, idempotent,
// bounded delivery timeout). Run starts it.
func NewRelay(store RelayStore, client *kgo.Client, cfg RelayConfig) *Relay {
	cfg = cfg.withDefaults()
	return &Relay{
		store:    store,
		client:   client,
		cfg:      cfg,
		log:      cfg.Logger.With("component", "kafka-relay", "claimant", cfg.Claimant),
		events:   make(map[string]*eventRelay),
		purgedAt: make(map[string]time.Time),
		resCh:    make(chan struct{}, 1),
		wakeCh:   make(chan struct{}, 1),
	}
}

// Claimant is the name the relay claims outbox entries under.
func (r *Relay) Claimant() string { return r.cfg.Claimant }

// Run relays until ctx ends, then waits up to ShutdownGrace for records
// already sent and acks those the broker took. It returns ctx's error.
func (r *Relay) Run(ctx context.Context) error {
	r.log.Info("Kafka relay started")
	defer r.log.Info("Kafka relay stopped")

	var eventsAt, reportAt time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		if now.Sub(eventsAt) >= r.cfg.EventsEvery {
			if err := r.refreshEvents(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				r.fail("list events", err)
				eventsAt = now.Add(r.cfg.BackoffMin - r.cfg.EventsEvery)
			} else {
				eventsAt = now
			}
		}
		r.collect(ctx)
		for _, id := range r.order {
			if ctx.Err() != nil {
				break
			}
			ev := r.events[id]
			if ev.inflight == 0 && !now.Before(ev.nextPoll) {
				r.step(ctx, ev, time.Now())
			}
		}
		if ctx.Err() != nil {
			break
		}
		if now.Sub(reportAt) >= r.cfg.ReportEvery {
			r.report(ctx)
			reportAt = now
		}

		next := minTime(eventsAt.Add(r.cfg.EventsEvery), reportAt.Add(r.cfg.ReportEvery))
		for _, ev := range r.events {
			if ev.inflight == 0 {
				next = minTime(next, ev.nextPoll)
			}
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
		select {
		case <-ctx.Done():
		case <-r.resCh:
		case <-r.wakeCh:
			r.takeWakes(time.Now())
		case <-timer.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	r.shutdown()
	return ctx.Err()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// step acks what the broker took, tops up the event's claimed entries and
// sends those not yet produced as one batch, in Seq order.
func (r *Relay) step(ctx context.Context, ev *eventRelay, now time.Time) {
	// A failed ack keeps its entries held (and is retried on the next
	// step); it need not stop new entries from going out.
	acked := r.ack(ctx, ev)
	if !r.claim(ctx, ev, now) {
		return
	}
	var batch []*heldEntry
	for _, he := range ev.held {
		if he.state == stateClaimed {
			batch = append(batch, he)
		}
	}
	if len(batch) == 0 {
		if acked {
			ev.backoff = 0
			ev.idle = min(max(ev.idle*2, r.cfg.PollMin), r.cfg.PollMax)
			ev.nextPoll = now.Add(ev.idle)
		}
		return
	}
	ev.idle = 0
	slices.SortFunc(batch, func(a, b *heldEntry) int { return cmp.Compare(a.entry.Change.Seq, b.entry.Change.Seq) })
	if room := r.cfg.MaxInflight - r.inflight; len(batch) > room {
		// The client's buffer would refuse some; the first ones go now,
		// the rest once answers make room.
		batch = batch[:max(room, 0)]
		if len(batch) == 0 {
			ev.nextPoll = now.Add(r.cfg.PollMin)
			return
		}
	}
	r.send(ctx, ev, batch, now)
}

// claim claims the event's outbox entries up to Batch held, and forgets the
// ones another relay took over; false if the store refused.
func (r *Relay) claim(ctx context.Context, ev *eventRelay, now time.Time) bool {
	// Every step claims, even with no room for more: that renews this
	// relay's claims (the store returns them again), so they never go idle
	// while it works on them, and it tells which ones another relay took
	// over while this one was stalled.
	entries, err := r.store.ClaimOutbox(ctx, ev.id, r.cfg.Claimant, max(r.cfg.Batch-len(ev.held), 0), r.cfg.MinIdle)
	if err != nil {
		if ctx.Err() == nil {
			r.fail("claim outbox of "+ev.id, err)
			r.backOff(ev, now)
		}
		return false
	}
	ours := make(map[string]bool, len(entries))
	for _, e := range entries {
		ours[e.ID] = true
		if he, ok := ev.held[e.ID]; ok {
			he.claimedAt = now
			continue
		}
		he := &heldEntry{entry: e, claimedAt: now}
		if e.Err != nil {
			// Written by a build that knows a kind of change this one does
			// not, or corrupted: retrying cannot help, and keeping it would
			// hold the event's backlog up forever. Drop it loudly.
			r.log.Error("Dropping outbox entry that cannot be read",
				"event_id", ev.id, "entry_id", e.ID, "error", e.Err)
			he.state = stateProduced
		}
		ev.held[e.ID] = he
	}
	for id, he := range ev.held {
		if he.state == stateClaimed && !ours[id] {
			// Taken over by another relay while this one stalled: it is
			// theirs to produce now, in order with what follows.
			delete(ev.held, id)
		}
	}
	return true
}

// send hands a batch, in Seq order, to the client.
func (r *Relay) send(ctx context.Context, ev *eventRelay, batch []*heldEntry, now time.Time) {
	ev.failed = false
	ev.sentAt = now
	for _, he := range batch {
		rec, err := newRecord(r.cfg.TopicPrefix, he.entry.Change)
		if err != nil {
			// Only a change of a kind this build does not know gets here;
			// retrying cannot help, and keeping it would hold the backlog up
			// forever. Drop it loudly.
			r.log.Error("Dropping outbox entry that cannot be encoded",
				"event_id", ev.id, "entry_id", he.entry.ID, "seq", he.entry.Change.Seq, "error", err)
			he.state = stateProduced
			continue
		}
		he.state = stateInflight
		ev.inflight++
		r.inflight++
		// TryProduce never blocks the loop: if the client's buffer is full
		// the record fails now and is retried after a backoff. The record
		// outlives Run's context so that, on shutdown, what is already on its
		// way can still be acknowledged (and acked) within ShutdownGrace.
		r.client.TryProduce(context.WithoutCancel(ctx), rec, func(rec *kgo.Record, err error) {
			r.resMu.Lock()
			r.results = append(r.results, produceResult{ev: ev, he: he, topic: rec.Topic, err: err})
			r.resMu.Unlock()
			select {
			case r.resCh <- struct{}{}:
			default:
			}
		})
	}
	if ev.inflight == 0 {
		ev.nextPoll = now
	}
}

// collect applies the produce answers that arrived and acks what the broker
// took.
func (r *Relay) collect(ctx context.Context) {
	r.resMu.Lock()
	res := r.results
	r.results = nil
	r.resMu.Unlock()

	now := time.Now()
	done := make(map[*eventRelay]bool)
	var failures uint64
	var lastErr error
	var recreated []string
	for _, pr := range res {
		pr.ev.inflight--
		r.inflight--
		if pr.err != nil {
			pr.he.state = stateClaimed
			pr.ev.failed = true
			failures++
			lastErr = pr.err
			if errors.Is(pr.err, kerr.UnknownTopicID) && !slices.Contains(recreated, pr.topic) {
				recreated = append(recreated, pr.topic)
			}
		} else {
			pr.he.state = stateProduced
		}
		if pr.ev.inflight == 0 {
			done[pr.ev] = true
		}
	}
	if failures > 0 {
		r.failN(failures, "produce", lastErr)
	}
	r.forgetRecreated(recreated, now)
	for ev := range done {
		if ev.failed {
			r.backOff(ev, now)
		} else {
			ev.backoff = 0
			ev.nextPoll = now // more may be waiting
		}
	}
	for ev := range done {
		r.ack(ctx, ev)
	}
	r.maybeRecovered()
}

// ack removes from the store the entries the broker has taken; false if the
// store refused.
func (r *Relay) ack(ctx context.Context, ev *eventRelay) bool {
	var ids []string
	for id, he := range ev.held {
		if he.state == stateProduced {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return true
	}
	if err := r.store.AckOutbox(ctx, ev.id, ids); err != nil {
		// The entries stay produced-but-held and are acked on a later pass;
		// if this relay dies first, another relay produces them again, which
		// the record ids make harmless.
		if ctx.Err() == nil {
			r.fail("ack outbox of "+ev.id, err)
			r.backOff(ev, time.Now())
		}
		return false
	}
	for _, id := range ids {
		if r.cfg.Relayed != nil {
			r.cfg.Relayed(ev.held[id].entry.Change.At)
		}
		delete(ev.held, id)
	}
	r.countRelayed(len(ids))
	return true
}

// forgetRecreated purges topics the broker answered with UNKNOWN_TOPIC_ID
// from the client. franz-go keeps producing to the first instance of a topic
// it met and refuses a new one (the topic was deleted and created again, or
// the cluster was replaced by another) until the topic is purged; the next
// produce then looks it up afresh. Their entries are still held and go out
// again after the backoff, in order. A topic is purged at most once per
// BackoffMin, so that answers to records sent before a purge do not purge the
// fresh instance again and again.
func (r *Relay) forgetRecreated(topics []string, now time.Time) {
	var purge []string
	for _, t := range topics {
		if now.Sub(r.purgedAt[t]) >= r.cfg.BackoffMin {
			purge = append(purge, t)
			r.purgedAt[t] = now
		}
	}
	if len(purge) == 0 {
		return
	}
	r.log.Warn("Kafka topics were re-created; producing to the new ones", "topics", purge)
	r.client.PurgeTopicsFromClient(purge...)
}

func (r *Relay) backOff(ev *eventRelay, now time.Time) {
	ev.backoff = min(max(ev.backoff*2, r.cfg.BackoffMin), r.cfg.BackoffMax)
	ev.nextPoll = now.Add(ev.backoff)
}

// shutdown gives records already sent a moment to be answered, then acks
// what the broker took so another relay does not produce it again.
func (r *Relay) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ShutdownGrace)
	defer cancel()
	for {
		r.collect(ctx)
		pending := false
		for _, ev := range r.events {
			pending = pending || ev.inflight > 0
		}
		if !pending {
			return
		}
		select {
		case <-r.resCh:
		case <-ctx.Done():
			r.log.Warn("Kafka relay stopped with records unanswered; their entries will be relayed again")
			return
		}
	}
}
