package events_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waitroom/waitroom/pkg/queue"
)

func TestRelayFakeSmoke(t *testing.T) {
	c := newCluster(t)
	brokers := c.ListenAddrs()
	store := newFakeOutbox()
	col := newCollector(t, brokers)
	r, _ := startRelay(t, store, newProducer(t, brokers), fastRelay("a"))

	var want []string
	for i := 0; i < 20; i++ {
		want = append(want, store.change("ev1", queue.ChangeJoined), store.change("ev2", queue.ChangeLeft))
	}
	col.waitFor(t, want)
	t.Logf("first batch in; stats %+v", r.Stats())

	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
	for i := 0; i < 20; i++ {
		want = append(want, store.change("ev1", queue.ChangeAdmitted), store.change("ev3", queue.ChangeExpired))
	}
	waitUntil(t, "produces fail", func() bool { return r.Stats().Failures > 0 })
	h.Remove()
	col.waitFor(t, want)
	t.Logf("stats %+v", r.Stats())
}
