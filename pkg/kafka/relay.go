package kafka

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/waitroom/waitroom/pkg/queue"
)

// RelayStore is what a Relay needs from the store: the list of events and
// their outboxes. A queue.Store built with an outbox satisfies it.
type RelayStore interface {
	Events(ctx context.Context) ([]queue.Event, error)
	queue.Outbox
}

// RelayConfig tunes a Relay. Zero fields take the defaults.
type RelayConfig struct {
	// TopicPrefix goes in front of every topic name (Config.TopicPrefix).
	TopicPrefix string
	// Consumer names this relay in the outbox claims; it must differ between
	// live relays. Default: host name, process id and a random suffix.
	Consumer string
	// Batch is how many entries of one event the relay holds at once
	// (default 256). It bounds the relay's memory during an outage: the rest
	// of the backlog stays in the store.
	Batch int
	// MinIdle is how long a claim holds before another relay may take the
	// event's outbox over (default 90s). The relay renews its claims at every
	// step, but none runs while a batch is in flight (up to the client's
	// delivery timeout, 30s by default) or backing off (up to BackoffMax), so
	// MinIdle must exceed both together, or two relays produce the same
	// entries out of order.
	MinIdle time.Duration
	// MaxInflight bounds the records handed to the client and not yet
	// answered, across events (default 4096). Keep it below the client's
	// MaxBufferedRecords (franz-go's default: 10,000): past that a record
	// fails at once while later ones of its batch succeed, out of order.
	MaxInflight int
	// PollMin and PollMax bound the polling of an event whose outbox is empty:
	// the interval doubles from PollMin to PollMax while it stays empty
	// (defaults 50ms and 30s), so an idle system costs one claim per event
	// per PollMax. WakeEvent, called for every change this process makes,
	// polls that event at once; the polling only catches entries no wake
	// announced (another replica's, whose relay died), so it can be slow,
	// and the events that are over cost little.
	PollMin, PollMax time.Duration
	// BackoffMin and BackoffMax bound the wait before retrying after a failed
	// produce or store call (defaults 250ms and 10s).
	BackoffMin, BackoffMax time.Duration
	// EventsEvery is how often the list of events is re-read (default 5s).
	EventsEvery time.Duration
	// ReportEvery is how often the backlog is counted for Stats and, when
	// produces are failing, logged (default 30s).
	ReportEvery time.Duration
	// StuckAfter is how long a batch may go unanswered before the relay
	// reports an outage (default 1m). The client's delivery timeout normally
	// answers much sooner; this catches a client that does not.
	StuckAfter time.Duration
	// ShutdownGrace is how long Run waits, once its context ends, for records
	// already sent to be answered so their entries can be acked (default 5s).
	ShutdownGrace time.Duration
}

func (c RelayConfig) withDefaults() RelayConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Consumer == "" {
		c.Consumer = processConsumerName()
	}
	if c.Batch <= 0 {
		c.Batch = 256
	}
	def(&c.MinIdle, 90*time.Second)
	if c.MaxInflight <= 0 {
		c.MaxInflight = 4096
	}
	def(&c.PollMin, 50*time.Millisecond)
	def(&c.PollMax, 30*time.Second)
	def(&c.BackoffMin, 250*time.Millisecond)
	def(&c.BackoffMax, 10*time.Second)
	def(&c.EventsEvery, 5*time.Second)
	def(&c.ReportEvery, 30*time.Second)
	def(&c.StuckAfter, time.Minute)
	def(&c.ShutdownGrace, 5*time.Second)
	c.PollMax = max(c.PollMax, c.PollMin)
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)
	return c
}

func processConsumerName() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "waitroom"
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// RelayStats is a snapshot of a Relay's progress.
type RelayStats struct {
	// Backlog is how many entries waited in the outboxes at the last count
	// (BacklogAt), this relay's and others' alike.
	Backlog   int64
	BacklogAt time.Time
	// Held is how many entries this relay had claimed and not yet acked, at
	// the last count.
	Held int
	// Relayed counts entries the broker acknowledged and the outbox dropped.
	Relayed uint64
	// Failures counts failed produce attempts and failed store calls.
	Failures uint64
	// LastError is the latest failure, and when it happened.
	LastError   string
	LastErrorAt time.Time
}

// Relay publishes the store's outbox to Kafka. Each entry is claimed under
// the relay's consumer name, produced, and acked in the store only once the
// broker has acknowledged it, so an entry is never lost: a failed produce
// keeps it, and a relay that dies leaves its claims to be taken over after
// MinIdle. One event's entries are produced in Seq order, one batch at a
// time, by one relay at a time: the store hands an event's outbox to one
// consumer while its claims are fresh (queue.Outbox), so relays on several
// replicas share the events, not the entries of one.
type Relay struct {
	store  RelayStore
	client *kgo.Client
	cfg    RelayConfig
	log    *slog.Logger

	// Only Run's goroutine touches the per-event state.
	events   map[string]*eventRelay
	order    []string
	inflight int // records handed to the client and not yet answered

	// results carries produce answers from franz-go's promise goroutine,
	// which must never block, to Run.
	resMu   sync.Mutex
	results []produceResult
	resCh   chan struct{}
	wakeCh  chan struct{}
	wakeMu  sync.Mutex
	woken   map[string]bool // events to poll at once
	wakeAll bool

	statsMu sync.Mutex
	stats   RelayStats
	// outage is true from a failure until the next fully successful batch; it
	// keeps the log to one line per outage plus the periodic backlog line.
	outage         bool
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
	ev  *eventRelay
	he  *heldEntry
	err error
}

// NewRelay returns a relay from store's outbox to client. The client should
// come from NewClient (acks from all in-sync replicas, idempotent, bounded
// delivery timeout). Run starts it.
func NewRelay(store RelayStore, client *kgo.Client, cfg RelayConfig, log *slog.Logger) *Relay {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	return &Relay{
		store:  store,
		client: client,
		cfg:    cfg,
		log:    log.With("component", "kafka-relay", "consumer", cfg.Consumer),
		events: make(map[string]*eventRelay),
		resCh:  make(chan struct{}, 1),
		wakeCh: make(chan struct{}, 1),
	}
}

// Consumer is the name the relay claims outbox entries under.
func (r *Relay) Consumer() string { return r.cfg.Consumer }

// Stats returns the relay's counters and the backlog at the last count.
func (r *Relay) Stats() RelayStats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return r.stats
}

// Backlog counts, now, the entries waiting in every event's outbox.
func (r *Relay) Backlog(ctx context.Context) (int64, error) {
	evs, err := r.store.Events(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range evs {
		l, err := r.store.OutboxLen(ctx, e.ID)
		if err != nil {
			return 0, err
		}
		n += l
	}
	return n, nil
}

// Wake makes the relay poll every event's outbox now rather than at its idle
// interval. It never blocks.
func (r *Relay) Wake() {
	r.wakeMu.Lock()
	r.wakeAll = true
	r.wakeMu.Unlock()
	r.signalWake()
}

// WakeEvent makes the relay poll one event's outbox now, registering the
// event if it is new. It never blocks; calling it after each change shortens
// the delay before the change reaches Kafka, and costs the other events
// nothing.
func (r *Relay) WakeEvent(eventID string) {
	r.wakeMu.Lock()
	if r.woken == nil {
		r.woken = make(map[string]bool)
	}
	r.woken[eventID] = true
	r.wakeMu.Unlock()
	r.signalWake()
}

func (r *Relay) signalWake() {
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// takeWakes applies the wakes that arrived: the events named poll now (new
// ones are registered), or all of them after Wake.
func (r *Relay) takeWakes(now time.Time) {
	r.wakeMu.Lock()
	woken, all := r.woken, r.wakeAll
	r.woken, r.wakeAll = nil, false
	r.wakeMu.Unlock()
	poll := func(ev *eventRelay) {
		if ev.backoff == 0 {
			ev.idle = 0
			ev.nextPoll = now
		}
	}
	if all {
		for _, ev := range r.events {
			poll(ev)
		}
	}
	for id := range woken {
		ev, ok := r.events[id]
		if !ok {
			ev = r.addEvent(id)
		}
		poll(ev)
	}
}

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

func (r *Relay) refreshEvents(ctx context.Context) error {
	evs, err := r.store.Events(ctx)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if _, ok := r.events[e.ID]; !ok {
			r.addEvent(e.ID)
		}
	}
	return nil
}

func (r *Relay) addEvent(id string) *eventRelay {
	ev := &eventRelay{id: id, held: make(map[string]*heldEntry)}
	r.events[id] = ev
	r.order = append(r.order, id)
	return ev
}

// step acks what the broker took, tops up the event's claimed entries and
// sends those not yet produced as one batch, in Seq order.
func (r *Relay) step(ctx context.Context, ev *eventRelay, now time.Time) {
	// A failed ack keeps its entries held (and is retried on the next
	// step); it need not stop new entries from going out.
	acked := r.ack(ctx, ev)

	// Every step claims, even with no room for more: that renews this
	// relay's claims (the store returns them again), so they never go idle
	// while it works on them, and it tells which ones another relay took
	// over while this one was stalled.
	entries, err := r.store.ClaimOutbox(ctx, ev.id, r.cfg.Consumer, max(r.cfg.Batch-len(ev.held), 0), r.cfg.MinIdle)
	if err != nil {
		if ctx.Err() == nil {
			r.fail("claim outbox of "+ev.id, err)
			r.backOff(ev, now)
		}
		return
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
		r.client.TryProduce(context.WithoutCancel(ctx), rec, func(_ *kgo.Record, err error) {
			r.resMu.Lock()
			r.results = append(r.results, produceResult{ev: ev, he: he, err: err})
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
	for _, pr := range res {
		pr.ev.inflight--
		r.inflight--
		if pr.err != nil {
			pr.he.state = stateClaimed
			pr.ev.failed = true
			failures++
			lastErr = pr.err
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
		delete(ev.held, id)
	}
	r.statsMu.Lock()
	r.stats.Relayed += uint64(len(ids))
	r.statsMu.Unlock()
	return true
}

func (r *Relay) backOff(ev *eventRelay, now time.Time) {
	ev.backoff = min(max(ev.backoff*2, r.cfg.BackoffMin), r.cfg.BackoffMax)
	ev.nextPoll = now.Add(ev.backoff)
}

func (r *Relay) fail(what string, err error) { r.failN(1, what, err) }

func (r *Relay) failN(n uint64, what string, err error) {
	msg := what + ": " + err.Error()
	r.statsMu.Lock()
	r.stats.Failures += n
	r.stats.LastError = msg
	r.stats.LastErrorAt = time.Now()
	first := !r.outage
	r.outage = true
	r.statsMu.Unlock()
	if first {
		r.log.Warn("Kafka relay failing; outbox entries are kept and retried", "error", msg)
	}
}

// maybeRecovered logs the end of an outage once nothing is failing or
// waiting for a retry.
func (r *Relay) maybeRecovered() {
	r.statsMu.Lock()
	outage := r.outage
	r.statsMu.Unlock()
	if !outage {
		return
	}
	for _, ev := range r.events {
		if ev.backoff != 0 || ev.failed || ev.inflight > 0 && time.Since(ev.sentAt) > r.cfg.StuckAfter {
			return
		}
	}
	r.statsMu.Lock()
	r.outage = false
	failures := r.stats.Failures
	r.statsMu.Unlock()
	r.log.Info("Kafka relay recovered", "failures", failures)
}

// report counts the backlog and logs it while the relay is failing.
func (r *Relay) report(ctx context.Context) {
	held := 0
	for _, ev := range r.events {
		held += len(ev.held)
		if ev.inflight > 0 && time.Since(ev.sentAt) > r.cfg.StuckAfter {
			r.fail("produce", fmt.Errorf("no answer for %d records of %s after %v",
				ev.inflight, ev.id, time.Since(ev.sentAt).Round(time.Second)))
		}
	}
	var backlog int64
	var err error
	for _, id := range r.order {
		var n int64
		if n, err = r.store.OutboxLen(ctx, id); err != nil {
			break
		}
		backlog += n
	}
	r.statsMu.Lock()
	r.stats.Held = held
	if err == nil {
		r.stats.Backlog = backlog
		r.stats.BacklogAt = time.Now()
	}
	st := r.stats
	outage := r.outage
	newFailures := st.Failures - r.failuresLogged
	r.failuresLogged = st.Failures
	r.statsMu.Unlock()

	switch {
	case err != nil && ctx.Err() == nil:
		r.log.Warn("Kafka outbox backlog unknown", "error", err)
	case outage || (newFailures > 0 && backlog > 0):
		r.log.Warn("Kafka outbox backlog", "backlog", backlog, "held", held,
			"failures", st.Failures, "last_error", st.LastError)
	}
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
