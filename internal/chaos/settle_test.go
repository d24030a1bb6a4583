package chaos

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/rueidis"
	"github.com/twmb/franz-go/pkg/kgo"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// waitIdle waits until no event has anyone waiting or in checkout: every
// admission and expiry the run caused has happened.
func (w *world) waitIdle() {
	deadline := time.Now().Add(time.Minute)
	for {
		busy := ""
		for _, ev := range events {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			res, err := w.replicas[0].admin.GetEvent(ctx, connect.NewRequest(&waitroomv1.GetEventRequest{EventId: ev}))
			cancel()
			if err != nil || res.Msg.GetEvent().GetQueueLength() > 0 || res.Msg.GetEvent().GetProcessing() > 0 {
				busy = ev
				break
			}
		}
		if busy == "" {
			return
		}
		if time.Now().After(deadline) {
			w.t.Errorf("event %s still has sessions waiting or in checkout a minute after the visitors finished", busy)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// storeSeqs reads each event's last change number from Redis.
func (w *world) storeSeqs() map[string]uint64 {
	out := map[string]uint64{}
	for _, ev := range events {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, err := w.redis.Do(ctx, "GET", "waitroom:{"+ev+"}:seq").ToString()
		cancel()
		if rueidis.IsRedisNil(err) {
			continue
		}
		n, perr := strconv.ParseUint(v, 10, 64)
		if err != nil || perr != nil {
			w.t.Fatalf("the seq of %s: %v %v", ev, err, perr)
		}
		out[ev] = n
	}
	return out
}

// readKafka reads every queue.* record from the start until each event's
// records cover 1..its store seq, or until within passes (the checker
// then counts what is missing). A relay killed mid-batch holds its events'
// records until its claim goes idle (90 s), hence the long wait.
func (w *world) readKafka(storeSeq map[string]uint64, within time.Duration) []Record {
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.broker.addr()), kgo.ConsumeTopics(queueTopics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		w.t.Fatal(err)
	}
	defer cl.Close()
	var records []Record
	seen := map[string]map[uint64]bool{}
	covered := func() bool {
		for ev, n := range storeSeq {
			if uint64(len(seen[ev])) < n {
				return false
			}
		}
		return true
	}
	start := time.Now()
	for !covered() && time.Since(start) < within {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			var id string
			for _, h := range r.Headers {
				if h.Key == "id" {
					id = string(h.Value)
				}
			}
			rec, err := DecodeRecord(r.Topic, id, r.Value)
			if err != nil {
				w.t.Error(err)
				return
			}
			records = append(records, rec)
			ev := rec.Event.GetEventId()
			if seen[ev] == nil {
				seen[ev] = map[uint64]bool{}
			}
			seen[ev][rec.Event.GetSeq()] = true
		})
	}
	w.t.Logf("read %d Kafka records in %v", len(records), time.Since(start).Round(time.Millisecond))
	return records
}

// finalReads reads the final state of every session a join returned or a
// record names: its status through each replica, and the first message of
// a stream opened on it.
func (w *world) finalReads(records []Record) {
	ids := map[string]string{} // session → event
	for _, op := range w.rec.History() {
		if op.Kind == Join && op.Outcome == OK {
			ids[op.Session] = op.Event
		}
	}
	for _, rec := range records {
		for _, s := range rec.Event.GetSessions() {
			ids[s.GetSessionId()] = rec.Event.GetEventId()
		}
	}
	work := make(chan [2]string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for job := range work {
				w.finalRead(job[0], job[1])
			}
		})
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		work <- [2]string{id, ids[id]}
	}
	close(work)
	wg.Wait()
}

func (w *world) finalRead(session, event string) {
	for i, r := range w.replicas {
		for range 5 {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			op := Op{Kind: FinalStatus, Process: -3, Event: event, Session: session, Invoke: w.rec.Time()}
			res, err := r.clients[i%len(r.clients)].GetQueueStatus(ctx, connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: session}))
			cancel()
			statusOp(&op, res, err)
			w.rec.Add(op)
			if op.Outcome != Unknown {
				break
			}
		}
	}
	r := w.replicas[len(session)%len(w.replicas)]
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	op := Op{Kind: FinalStream, Process: -3, Event: event, Session: session, Invoke: w.rec.Time()}
	st, err := r.clients[0].StreamQueuePosition(ctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: session}))
	if err == nil {
		defer st.Close()
		if st.Receive() {
			op.Status = st.Msg().Status
		} else {
			err = st.Err()
		}
	}
	op.Outcome, op.Err = outcome(err)
	w.rec.Add(op)
}
