package fanout_test

import (
	"context"
	"maps"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// TestStreamReportsFollowOpenStreams: the hub counts its open streams by
// event, the service reports them every second, withdraws an event whose
// streams closed, and withdraws everything when it stops.
func TestStreamReportsFollowOpenStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		svc, hub := newService(t, store, 10, func(c *queue.Config) { c.Replica = "r1" })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ids := joinN(t, ctx, svc, "ev", 2)
		other := joinN(t, ctx, svc, "ev2", 1)
		var streams []*queue.Stream
		for _, id := range append(ids, other...) {
			st, err := svc.Watch(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			streams = append(streams, st)
		}
		if got, want := hub.OpenStreamsByEvent(), map[string]int64{"ev": 2, "ev2": 1}; !maps.Equal(got, want) {
			t.Fatalf("OpenStreamsByEvent = %v, want %v", got, want)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- svc.RunStreamReport(rctx) }()
		open := func(ev string) (int64, int) {
			t.Helper()
			f, err := svc.Figures(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			return f.OpenStreams, f.Replicas
		}
		tick := func() {
			time.Sleep(queue.StreamReportInterval)
			synctest.Wait()
		}
		tick()
		if n, r := open("ev"); n != 2 || r != 1 {
			t.Fatalf("reported %d streams from %d replicas, want 2 from 1", n, r)
		}
		streams[0].Close()
		streams[2].Close()
		tick()
		if n, _ := open("ev"); n != 1 {
			t.Fatalf("after a stream closed: %d reported, want 1", n)
		}
		if n, r := open("ev2"); n != 0 || r != 0 {
			t.Fatalf("an event whose streams closed: %d streams from %d replicas, want none", n, r)
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n, r := open("ev"); n != 0 || r != 0 {
			t.Fatalf("after the reporter stopped: %d streams from %d replicas, want none", n, r)
		}
		streams[1].Close()
	})
}
