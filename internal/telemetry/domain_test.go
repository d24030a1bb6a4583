package telemetry

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/waitroom/waitroom/pkg/queue"
)

func newTestDomain(t testing.TB) (*Domain, *sdkmetric.ManualReader) {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	d, err := NewDomain(mp, Sources{OpenStreams: func() int64 { return 7 }})
	if err != nil {
		t.Fatal(err)
	}
	return d, r
}

// TestHotPathsDoNotAllocate: a stream message and a join cost no
// allocation once their event is known; the instruments and attributes are
// bound in advance.
func TestHotPathsDoNotAllocate(t *testing.T) {
	d, _ := newTestDomain(t)
	changed := time.Now()
	d.Counted("gala", queue.ChangeJoined, 1)
	if n := testing.AllocsPerRun(1000, func() {
		d.Sent(changed, false)
		d.Sent(time.Time{}, true)
		d.Counted("gala", queue.ChangeJoined, 1)
	}); n != 0 {
		t.Fatalf("%v allocations per message and join", n)
	}
}

// TestIdleEventsAreDropped: an event's series stay while passes find it
// live, and go once it has been idle for IdleGrace.
func TestIdleEventsAreDropped(t *testing.T) {
	d, r := newTestDomain(t)
	t0 := time.Now()
	d.now = func() time.Time { return t0 }
	d.Counted("gala", queue.ChangeJoined, 3)
	d.LiveEvents(t0, []queue.EventFigures{{EventID: "gala", QueueLength: 3}, {EventID: "fair", QueueLength: 1}})
	if got := eventsIn(t, r); got != 2 {
		t.Fatalf("%d events reported; want 2", got)
	}
	d.LiveEvents(t0.Add(IdleGrace/2), []queue.EventFigures{{EventID: "fair", QueueLength: 1}})
	if got := eventsIn(t, r); got != 2 {
		t.Fatalf("%d events reported within the grace; want 2", got)
	}
	d.LiveEvents(t0.Add(IdleGrace+time.Second), []queue.EventFigures{{EventID: "fair", QueueLength: 1}})
	if got := eventsIn(t, r); got != 1 {
		t.Fatalf("%d events reported after the grace; want 1", got)
	}
}

// eventsIn is how many events waitroom.queue.joins reports.
func eventsIn(t *testing.T, r *sdkmetric.ManualReader) int {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "waitroom.queue.joins" {
				return len(m.Data.(metricdata.Sum[int64]).DataPoints)
			}
		}
	}
	return 0
}

// BenchmarkSent is the metrics' cost of one stream message.
func BenchmarkSent(b *testing.B) {
	d, _ := newTestDomain(b)
	changed := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		d.Sent(changed, false)
	}
}
