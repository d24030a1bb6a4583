package diskstore_test

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/diskstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// BenchmarkStartMillion opens a store holding 1,000,000 waiting sessions
// (1,100,000 joined by 64 callers at once, every 11th left) and checks every
// position afterwards. open-s is the time Open takes (latest snapshot plus
// the log after it); disk-B/session is the database file's size per waiting
// session.
//
//	go test ./pkg/queue/diskstore -run X -bench StartMillion -benchtime 3x
func BenchmarkStartMillion(b *testing.B) {
	const joins, callers = 1_100_000, 64
	dir := b.TempDir()
	s, err := diskstore.Open(diskstore.Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, joins)
	now := time.Now()
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := c; i < joins; i += callers {
				ids[i] = queue.NewSessionID("big")
				_, _, _, err := s.Join(b.Context(), queue.JoinParams{SessionID: ids[i], UserID: fmt.Sprintf("user-%d", i), EventID: "big",
					Now: now, TTL: 2 * time.Hour, NewEvent: queue.Event{ID: "big", State: queue.EventPaused, MaxConcurrent: 100, CheckoutWindow: 10 * time.Minute}})
				if err != nil {
					b.Error(err)
					return
				}
				if i%11 == 10 {
					if _, err := s.Leave(b.Context(), ids[i], now); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, diskstore.FileName))
	if err != nil {
		b.Fatal(err)
	}
	var took time.Duration
	for b.Loop() {
		start := time.Now()
		s, err := diskstore.Open(diskstore.Config{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		b.StopTimer()
		checkPositions(b, s, ids)
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(took.Seconds()/float64(b.N), "open-s")
	b.ReportMetric(float64(fi.Size())/1e6, "disk-B/session")
}

// checkPositions: the sessions not left, in ticket (arrival) order, are at
// positions 1..1,000,000.
func checkPositions(b *testing.B, s *diskstore.Store, ids []string) {
	type place struct {
		ticket uint64
		pos    int64
	}
	var ps []place
	for i, id := range ids {
		sess, pl, err := s.Session(b.Context(), id)
		if err != nil {
			b.Fatal(err)
		}
		if (i%11 == 10) != (pl.Position == 0) || pl.QueueLength != 1_000_000 {
			b.Fatalf("session %d: %+v", i, pl)
		}
		if pl.Position != 0 {
			ps = append(ps, place{sess.Ticket, pl.Position})
		}
	}
	slices.SortFunc(ps, func(a, b place) int { return cmp.Compare(a.ticket, b.ticket) })
	for i, p := range ps {
		if p.pos != int64(i+1) {
			b.Fatalf("the session with ticket %d is at %d, want %d", p.ticket, p.pos, i+1)
		}
	}
}

// BenchmarkPlacement100k: placing a pre-queue of 100,000, logged as one
// record.
//
//	go test ./pkg/queue/diskstore -run X -bench Placement -benchtime 3x
func BenchmarkPlacement100k(b *testing.B) {
	s, err := diskstore.Open(diskstore.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	queuetest.BenchmarkPlacement(b, s, 100_000)
}
