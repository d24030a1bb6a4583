package diskstore

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// commitLoop writes each batch in one commit, announces its changes, and
// releases its callers; after a failed commit it reloads the state from
// disk. It returns once the store is closing and nothing is pending.
func (s *Store) commitLoop() {
	for {
		select {
		case <-s.kick:
		case <-s.closing:
			if !s.commitOnce() {
				return
			}
			continue
		}
		s.commitOnce()
	}
}

// maxLinger is the longest a commit waits for its batch to fill.
const maxLinger = time.Millisecond

// gather lets the open batch grow, under load, to about the size of the
// previous one before it is committed. Without it the committer, woken as
// soon as one record arrives, would write one small batch after another
// (an fsync each) while the callers it just released are still on their
// way back with their next calls: on one core the server then spends its
// time in fsyncs instead of calls. Under light load it commits at once.
func (s *Store) gather(prev int) {
	// Callers woken by the last commit, and calls that arrived meanwhile,
	// append before this batch is taken rather than after: on one P the
	// committer, readied by the first record, would otherwise run first.
	runtime.Gosched()
	want := prev * 3 / 4
	if want <= 1 {
		return
	}
	timer := time.NewTimer(maxLinger)
	defer timer.Stop()
	for {
		s.mu.Lock()
		n := len(s.open.recs)
		s.mu.Unlock()
		if n >= want {
			return
		}
		select {
		case <-s.kick:
		case <-timer.C:
			return
		case <-s.closing:
			return
		}
	}
}

// commitStats counts the committer's work, for operators and load tools.
type commitStats struct {
	commits, records, nanos atomic.Int64
}

func (c *commitStats) add(records int, took time.Duration) {
	c.commits.Add(1)
	c.records.Add(int64(records))
	c.nanos.Add(int64(took))
}

// Stats is what the store's committer has done since Open.
type Stats struct {
	// Commits is how many group commits were written (each one bbolt
	// transaction, synced), Records how many log records they held.
	Commits, Records int64
	// CommitTime is the wall time spent writing and syncing them.
	CommitTime time.Duration
}

// Stats reports the committer's work since Open. Records / Commits is the
// mean group-commit size: the larger, the less each call pays for the sync.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.stats.commits.Load(), Records: s.stats.records.Load(),
		CommitTime: time.Duration(s.stats.nanos.Load())}
}

// commitOnce commits the open batch; false when it was empty.
func (s *Store) commitOnce() bool {
	s.gather(s.prevBatch)
	s.mu.Lock()
	b := s.open
	if len(b.recs) == 0 {
		s.mu.Unlock()
		return false
	}
	s.open = newBatch()
	s.mu.Unlock()
	s.prevBatch = len(b.recs)

	start := time.Now()
	s.dbMu.RLock()
	err := writeRecords(s.db, b.recs)
	s.dbMu.RUnlock()
	s.stats.add(len(b.recs), time.Since(start))
	if err != nil {
		s.log.Error("Embedded store: a write to disk failed; refusing calls until the state is read back from disk",
			"dir", s.cfg.Dir, "error", err)
		b.err = err
		close(b.done)
		s.failNow(err)
		return true
	}
	s.deliver(b.changes)
	close(b.done)
	return true
}

// failNow refuses calls, fails every batch not yet written, and reloads
// the state from disk (retrying while that fails).
func (s *Store) failNow(err error) {
	s.mu.Lock()
	s.failed = err
	rest := s.open
	s.open = newBatch()
	s.last = nil
	s.mu.Unlock()
	rest.err = err
	close(rest.done)

	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		if rerr := s.reload(); rerr == nil {
			return
		} else {
			s.log.Error("Embedded store: reading the state back from disk failed; retrying", "error", rerr, "in", delay)
		}
		select {
		case <-s.closing:
			return
		case <-time.After(delay):
		}
	}
}

// reload reopens the database and replaces the memory state with what it
// holds, then tells every subscriber to resynchronise.
func (s *Store) reload() error {
	s.dbMu.Lock()
	s.db.Close()
	db, err := openDB(s.cfg.Dir, false)
	if err != nil {
		// Keep a closed handle in place: later commits fail, not crash.
		s.dbMu.Unlock()
		return err
	}
	s.db = db
	s.dbMu.Unlock()
	l, err := s.loadFrom(db)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.install(l)
	s.gen++
	s.mu.Unlock()
	s.log.Warn("Embedded store: state read back from disk; serving again", "records_replayed", l.replayed)
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for _, m := range s.subs {
		for sub := range m {
			sub.h.Subscribed()
		}
	}
	return nil
}

// deliver hands committed changes to subscribers, in order.
func (s *Store) deliver(cs []queue.Change) {
	if len(cs) == 0 {
		return
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for _, c := range cs {
		for sub := range s.subs[c.EventID] {
			sub.h.Change(c)
		}
	}
}

// Subscribe implements queue.Store. Changes reach h once they are on disk,
// in order, from the committer goroutine; Subscribed is called first, and
// again after a failed write made the store read its state back (changes
// in between are not delivered: h resynchronises).
func (s *Store) Subscribe(ctx context.Context, eventID string, h queue.ChangeHandler) error {
	sub := &subscriber{h: h}
	s.subMu.Lock()
	m := s.subs[eventID]
	if m == nil {
		m = map[*subscriber]struct{}{}
		s.subs[eventID] = m
	}
	m[sub] = struct{}{}
	h.Subscribed()
	s.subMu.Unlock()

	<-ctx.Done()

	s.subMu.Lock()
	delete(m, sub)
	if len(m) == 0 {
		delete(s.subs, eventID)
	}
	s.subMu.Unlock()
	return ctx.Err()
}

// snapshot dumps the state and writes it, a chunk per commit so that the
// log's commits go on in between, then makes it current.
func (s *Store) snapshot() {
	defer func() {
		s.mu.Lock()
		s.snapping = false
		s.mu.Unlock()
	}()
	s.mu.Lock()
	if s.refusal() != nil {
		s.mu.Unlock()
		return
	}
	start := time.Now()
	data := s.mem.Dump()
	held := time.Since(start)
	lsn, b, gen := s.nextLSN-1, s.last, s.gen
	s.segment = s.nextLSN
	s.logBytes = 0
	s.mu.Unlock()
	if s.wait(context.Background(), b) != nil {
		return
	}
	for i := 0; i*chunkSize < len(data) || i == 0; i++ {
		if !s.sameGen(gen) {
			return
		}
		chunk := data[i*chunkSize : min(len(data), (i+1)*chunkSize)]
		s.dbMu.RLock()
		err := writeSnapshotChunk(s.db, lsn, i, chunk)
		s.dbMu.RUnlock()
		if err != nil {
			s.log.Warn("Embedded store: writing a snapshot failed; the log keeps everything", "error", err)
			return
		}
	}
	if !s.sameGen(gen) {
		return
	}
	s.dbMu.RLock()
	err := commitSnapshot(s.db, lsn)
	s.dbMu.RUnlock()
	if err != nil {
		s.log.Warn("Embedded store: writing a snapshot failed; the log keeps everything", "error", err)
		return
	}
	s.mu.Lock()
	s.snapSize = int64(len(data))
	s.mu.Unlock()
	s.log.Info("Embedded store: snapshot written", "record", lsn, "bytes", len(data),
		"lock_held", held.Round(time.Microsecond), "took", time.Since(start).Round(time.Millisecond))
}

func (s *Store) sameGen(gen uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen == gen && s.refusal() == nil
}
