package telemetry

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/waitroom/waitroom/pkg/queue"
)

// Scope is the instrumentation scope of the waiting room's own metrics.
const Scope = "github.com/waitroom/waitroom"

// IdleGrace is how long an event's series outlive the last pass that found
// it live, so a scrape or two still sees its final counts.
const IdleGrace = time.Minute

// eventKinds are the per-event counters, by the change kind they count.
var eventKinds = []struct {
	kind queue.ChangeKind
	name string
	desc string
}{
	{queue.ChangeJoined, "waitroom.queue.joins", "Sessions this replica created by JoinQueue."},
	{queue.ChangeLeft, "waitroom.queue.leaves", "Sessions this replica took out of the queue by LeaveQueue."},
	{queue.ChangeAdmitted, "waitroom.queue.admissions", "Sessions this replica's processor admitted to checkout."},
	{queue.ChangeCompleted, "waitroom.queue.completions", "Checkouts this replica completed (CompleteCheckout or checkout.completed)."},
	{queue.ChangeExpired, "waitroom.queue.expiries", "Sessions this replica's processor expired."},
}

// eventSeries is one live event's figures: counters since the event
// became live on this replica, and the last pass's counts.
type eventSeries struct {
	attrs      metric.MeasurementOption // event_id, made once
	counts     [queue.ChangePlaced + 1]int64
	figures    bool // the counts below were read
	queueLen   int64
	inCheckout int64
	lastLive   time.Time
}

// Domain records the waiting room's own metrics. It implements
// queue.Observer and api.StreamObserver; the figures kept elsewhere
// (open streams, limit refusals, the relay's backlog) it reads at
// collection through Sources.
type Domain struct {
	now func() time.Time

	mu     sync.Mutex
	events map[string]*eventSeries

	// storeErrors counts failed store calls by component; the fan-out's
	// come from Sources.
	processorErrors, requestErrors atomic.Int64

	// Pre-bound instruments and attributes for the per-message paths.
	sent               metric.Int64Counter
	delivery, relayLag metric.Float64Histogram
	// Options are kept as slices: passing one option to a variadic
	// parameter would make a slice, which escapes, for every call.
	updateAttrs    []metric.AddOption
	heartbeatAttrs []metric.AddOption
}

// Sources are the figures other parts of the replica keep; nil ones are
// not reported.
type Sources struct {
	// OpenStreams is how many position streams are open on this replica.
	OpenStreams func() int64
	// Coalesced counts states a stream skipped for a newer one.
	Coalesced func() int64
	// StreamStoreErrors counts the fan-out's failed store calls.
	StreamStoreErrors func() int64
	// Refusals count the limits' refusals, by kind.
	Refusals map[string]func() int64
	// KafkaBacklog is the outboxes' backlog at the relay's last count;
	// KafkaRelayed and KafkaFailures its totals. Nil without Kafka.
	KafkaBacklog, KafkaRelayed, KafkaFailures func() int64
}

// NewDomain makes the instruments on mp and reads src at each collection.
func NewDomain(mp metric.MeterProvider, src Sources) (*Domain, error) {
	m := mp.Meter(Scope)
	d := &Domain{
		now:            time.Now,
		events:         map[string]*eventSeries{},
		updateAttrs:    []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", "update")))},
		heartbeatAttrs: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", "heartbeat")))},
	}
	var err error
	if d.sent, err = m.Int64Counter("waitroom.stream.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Position updates written to streams, by kind (update or heartbeat).")); err != nil {
		return nil, err
	}
	if d.delivery, err = m.Float64Histogram("waitroom.stream.delivery.duration", metric.WithUnit("s"),
		metric.WithDescription("From a change's commit to the write of the first stream message that shows it."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30)); err != nil {
		return nil, err
	}
	if d.relayLag, err = m.Float64Histogram("waitroom.kafka.relay.lag", metric.WithUnit("s"),
		metric.WithDescription("From a change's commit to the broker's acknowledgement of its Kafka record."),
		metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)); err != nil {
		return nil, err
	}
	if err := d.observe(m, src); err != nil {
		return nil, err
	}
	return d, nil
}

// Counted implements queue.Observer.
func (d *Domain) Counted(eventID string, k queue.ChangeKind, n int) {
	if int(k) >= len(eventSeries{}.counts) {
		return
	}
	d.mu.Lock()
	e := d.series(eventID)
	e.counts[k] += int64(n)
	e.lastLive = d.now()
	d.mu.Unlock()
}

// series returns the event's figures, made on first use. Called with d.mu held.
func (d *Domain) series(eventID string) *eventSeries {
	e := d.events[eventID]
	if e == nil {
		e = &eventSeries{attrs: metric.WithAttributeSet(attribute.NewSet(attribute.String("event_id", eventID)))}
		d.events[eventID] = e
	}
	return e
}

// LiveEvents implements queue.Observer: it keeps the live events' counts
// and drops the series of events idle for IdleGrace, which bounds the
// series to the live events.
func (d *Domain) LiveEvents(now time.Time, figures []queue.EventFigures) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range figures {
		e := d.series(f.EventID)
		e.figures, e.queueLen, e.inCheckout, e.lastLive = true, f.QueueLength, f.InCheckout, now
	}
	for id, e := range d.events {
		if now.Sub(e.lastLive) > IdleGrace {
			delete(d.events, id)
		}
	}
}

// StoreFailed implements queue.Observer.
func (d *Domain) StoreFailed(error) {
	d.processorErrors.Add(1)
}

// RequestStoreFailed counts a request that failed in the store.
func (d *Domain) RequestStoreFailed() {
	d.requestErrors.Add(1)
}

// Sent implements api.StreamObserver.
func (d *Domain) Sent(changedAt time.Time, heartbeat bool) {
	ctx := context.Background()
	if heartbeat {
		d.sent.Add(ctx, 1, d.heartbeatAttrs...)
		return
	}
	d.sent.Add(ctx, 1, d.updateAttrs...)
	if !changedAt.IsZero() {
		d.delivery.Record(ctx, max(time.Since(changedAt).Seconds(), 0))
	}
}

// Relayed records a Kafka record's lag, from its change's commit to the
// broker's acknowledgement.
func (d *Domain) Relayed(changedAt time.Time) {
	if !changedAt.IsZero() {
		d.relayLag.Record(context.Background(), max(time.Since(changedAt).Seconds(), 0))
	}
}
