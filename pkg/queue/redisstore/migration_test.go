package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// migration is one event's slot being moved between the nodes of a real
// Redis Cluster, key by key, as redis-cli --cluster reshard does it.
type migration struct {
	t        *testing.T
	slot     string
	src, dst *redistest.Server
	host     string
	port     string
	cl       *redistest.Cluster
}

func startMigration(t *testing.T, cl *redistest.Cluster, ev string) *migration {
	t.Helper()
	m := &migration{t: t, cl: cl}
	m.slot = cl.Nodes[0].MustString("CLUSTER", "KEYSLOT", "waitroom:{"+ev+"}:queue")
	for _, n := range cl.Nodes {
		if n.MustString("CLUSTER", "COUNTKEYSINSLOT", m.slot) != "0" {
			m.src = n
		} else if m.dst == nil {
			m.dst = n
		}
	}
	m.host, m.port, _ = strings.Cut(m.dst.Addr(), ":")
	m.dst.MustString("CLUSTER", "SETSLOT", m.slot, "IMPORTING", m.src.MustString("CLUSTER", "MYID"))
	m.src.MustString("CLUSTER", "SETSLOT", m.slot, "MIGRATING", m.dst.MustString("CLUSTER", "MYID"))
	return m
}

// move migrates keys now.
func (m *migration) move(keys ...string) {
	m.t.Helper()
	m.src.MustString(append([]string{"MIGRATE", m.host, m.port, "", "0", "5000", "KEYS"}, keys...)...)
}

// finish moves the rest of the slot and hands it to the destination.
func (m *migration) finish() {
	m.t.Helper()
	ks, err := m.src.Do(context.Background(), "CLUSTER", "GETKEYSINSLOT", m.slot, "10000").AsStrSlice()
	if err != nil {
		m.t.Fatal(err)
	}
	if len(ks) > 0 {
		m.move(ks...)
	}
	id := m.dst.MustString("CLUSTER", "MYID")
	for _, n := range m.cl.Nodes {
		n.MustString("CLUSTER", "SETSLOT", m.slot, "NODE", id)
	}
}

// TestSlotMigrationChangesAllOrNothing: while a reshard moves an event's
// slot, a script that needs a session or user key already moved (or not yet
// moved, when Redis sends the script to the new node) must change nothing and
// fail as unavailable; once the move is done the same calls succeed, and no
// session is left half-changed. Sessions and users are keys a script finds
// through the event's sets, so they cannot be declared up front.
func TestSlotMigrationChangesAllOrNothing(t *testing.T) {
	for _, c := range []struct {
		name string
		// moved returns the keys moved before the calls, given the key
		// prefix and the sessions (0 admitted, 1-3 queued).
		moved func(p string, ss []queue.Session) []string
	}{
		{"old node: a session and a user already moved", func(p string, ss []queue.Session) []string {
			return []string{p + "session:" + ss[1].ID, p + "user:u2", p + "session:" + ss[0].ID}
		}},
		{"new node: the sets moved, the sessions not yet", func(p string, ss []queue.Session) []string {
			var ks []string
			for _, k := range []string{"event", "queue", "processing", "deadlines", "expiry", "tickets", "seq", "outbox"} {
				ks = append(ks, p+k)
			}
			return ks
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := redistest.StartCluster(t, 3)
			st := dialWith(t, cl.Addrs(), redisstore.Config{Outbox: true, Timeout: 2 * time.Second})
			ctx := t.Context()
			ev := fmt.Sprintf("mig%d", time.Now().UnixNano())
			now := time.Now().UTC().Truncate(time.Millisecond)
			e := queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 2, CheckoutWindow: time.Minute}
			var ss []queue.Session
			for i := range 4 {
				s, _, _, err := st.Join(ctx, queue.JoinParams{SessionID: queue.NewSessionID(ev), UserID: fmt.Sprintf("u%d", i),
					EventID: ev, Now: now, TTL: time.Hour, NewEvent: e})
				if err != nil {
					t.Fatal(err)
				}
				ss = append(ss, s)
			}
			if a, err := st.Admit(ctx, ev, now, 1); err != nil || len(a) != 1 {
				t.Fatalf("Admit before: %v, %v", a, err)
			}
			_, before, err := st.Event(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}

			p := "waitroom:{" + ev + "}:"
			m := startMigration(t, cl, ev)
			m.move(c.moved(p, ss)...)
			later := now.Add(2 * time.Minute) // past the admitted session's deadline
			if got, err := st.Admit(ctx, ev, now, 10); !errors.Is(err, queue.ErrUnavailable) {
				t.Errorf("Admit during the move: %v, %v; want ErrUnavailable", got, err)
			}
			if _, err := st.Leave(ctx, ss[2].ID, now); err == nil {
				t.Error("Leave during the move succeeded")
			}
			if got, err := st.Expire(ctx, ev, later, 10); !errors.Is(err, queue.ErrUnavailable) {
				t.Errorf("Expire during the move: %v, %v; want ErrUnavailable", got, err)
			}
			m.finish()

			time.Sleep(500 * time.Millisecond) // the client learns the new slot owner
			_, after, err := st.Event(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("the failed calls changed the event: %+v, was %+v", after, before)
			}
			for i, s := range ss {
				got, pl, err := st.Session(ctx, s.ID)
				want := queue.StatusQueued
				if i == 0 {
					want = queue.StatusReady
				}
				if err != nil || got.Status != want || (want == queue.StatusQueued && pl.Position != int64(i)) {
					t.Errorf("session %d after the move: %v at %d (%v), want %v at %d", i, got.Status, pl.Position, err, want, i)
				}
			}
			// The same calls now do their whole work.
			if x, err := st.Expire(ctx, ev, later, 10); err != nil || len(x) != 1 || x[0].ID != ss[0].ID {
				t.Fatalf("Expire after the move: %v, %v", x, err)
			}
			if a, err := st.Admit(ctx, ev, later, 10); err != nil || len(a) != 2 || a[0].ID != ss[1].ID {
				t.Fatalf("Admit after the move: %v, %v", a, err)
			}
			if _, err := st.Leave(ctx, ss[3].ID, later); err != nil {
				t.Fatal(err)
			}
			again, _, created, err := st.Join(ctx, queue.JoinParams{SessionID: queue.NewSessionID(ev), UserID: "u3",
				EventID: ev, Now: later, TTL: time.Hour})
			if err != nil || !created {
				t.Fatalf("u3 joins again after leaving: %+v created=%v %v", again, created, err)
			}
		})
	}
}
