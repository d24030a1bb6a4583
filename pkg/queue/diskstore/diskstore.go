// Package diskstore is the embedded, durable queue.Store: the memory store
// (memstore) with every change logged to disk before the call that made it
// returns, so that whatever a caller was told survives kill -9 and power
// loss. It is the default backend without Redis.
//
// Each call that changes something runs on the memory store and appends a
// record of the call (ops.go) to the log, both under one lock, so the log's
// order is the order the changes were made in. A committer goroutine writes
// the records gathered since its last commit in one bbolt transaction and
// one fsync (group commit: under load, one fsync carries hundreds of
// calls), then announces their changes to subscribers and releases their
// callers. No caller, subscriber or outbox reader ever sees a change that is
// not on disk: every call, reads included, waits until the newest record it
// could have seen is written. A commit that fails (a full disk) fails every
// call waiting for it and every later one with queue.ErrUnavailable until
// the state has been read back from disk, so memory never stays ahead of it.
//
// Start-up restores the latest snapshot (a memstore dump) and replays the
// records after it. Snapshots are written in the background once the log
// since the last one outgrows it, which bounds both start-up time and disk
// use.
package diskstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

var (
	_ queue.Store  = (*Store)(nil)
	_ queue.Outbox = (*Store)(nil)
)

var noCtx = context.Background()

// DefaultSnapshotBytes is the least log, in bytes, written between two
// snapshots.
const DefaultSnapshotBytes = 64 << 20

// Config configures a Store.
type Config struct {
	// Dir is the data directory; it is created if missing. Required.
	Dir string
	// Outbox records every change in an outbox (queue.Outbox) until
	// acknowledged, as memstore.Config.Outbox does.
	Outbox bool
	// SnapshotBytes: a snapshot is written once the log since the last one
	// holds this many bytes, or as many as that snapshot, whichever is more
	// (DefaultSnapshotBytes).
	SnapshotBytes int64
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock of outbox claims; time.Now when nil.
	Now func() time.Time
}

// Store is the durable embedded queue.Store. Open one; Close it.
type Store struct {
	cfg Config
	log *slog.Logger

	// mu orders every call: a change to mem and its record's place in the
	// log are decided together under it.
	mu       sync.Mutex
	mem      *memstore.Store
	failed   error  // a commit failed; calls are refused until reloaded
	gen      uint64 // counts reloads
	open     *batch // records not yet taken by the committer
	last     *batch // the batch holding the newest record
	nextLSN  uint64
	segment  uint64
	watched  map[string]func()
	captured []queue.Change // the current call's changes
	opNow    time.Time      // what mem's clock reads during the current call
	logBytes int64          // since the last snapshot
	snapSize int64
	snapping bool

	// dbMu guards db against being swapped (by a reload) during use.
	dbMu sync.RWMutex
	db   *bolt.DB

	subMu sync.Mutex
	subs  map[string]map[*subscriber]struct{}

	kick      chan struct{}
	prevBatch int // records in the last commit (the committer's own)
	stats     commitStats
	closing   chan struct{}
	wg        sync.WaitGroup
	backupLn  net.Listener
}

type subscriber struct{ h queue.ChangeHandler }

// batch is the records one commit writes, the changes they announce, and
// the callers waiting for them (on done; err is set before done closes).
type batch struct {
	recs    []rec
	changes []queue.Change
	done    chan struct{}
	err     error
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// Open opens (creating) the store in cfg.Dir and restores its state. It
// refuses a directory another process has open.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("diskstore: no directory")
	}
	if cfg.SnapshotBytes <= 0 {
		cfg.SnapshotBytes = DefaultSnapshotBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:     cfg,
		log:     cfg.Logger,
		open:    newBatch(),
		subs:    map[string]map[*subscriber]struct{}{},
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
	db, err := openDB(cfg.Dir, false)
	if err != nil {
		return nil, err
	}
	s.db = db
	start := time.Now()
	l, err := s.loadFrom(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", cfg.Dir, err)
	}
	s.install(l)
	s.log.Info("Embedded store opened", "dir", cfg.Dir, "records_replayed", l.replayed,
		"snapshot_bytes", l.snapBytes, "took", time.Since(start).Round(time.Millisecond))
	s.wg.Go(s.commitLoop)
	if cfg.Outbox != l.mem.OutboxOn() {
		s.mu.Lock()
		s.mem.SetOutbox(cfg.Outbox)
		s.appendLocked(&op{kind: opOutbox, on: cfg.Outbox})
		b := s.last
		s.mu.Unlock()
		if err := s.wait(noCtx, b); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.listenBackup()
	return s, nil
}

// loadFrom reads the state from db, logging what a damaged file cost.
func (s *Store) loadFrom(db *bolt.DB) (*loaded, error) {
	var now time.Time
	mcfg := memstore.Config{Outbox: false, Now: func() time.Time {
		if !now.IsZero() {
			return now
		}
		return s.opNow
	}}
	l, err := load(db, mcfg, func(t time.Time) { now = t })
	if err != nil {
		return nil, err
	}
	now = time.Time{} // from here on, mem reads s.opNow
	if l.dropped > 0 {
		s.log.Error("Embedded store: the log ends in a damaged record; recovered up to the last whole one",
			"dir", s.cfg.Dir, "last_record", l.lastLSN, "records_dropped", l.dropped, "reason", l.dropReason)
	}
	return l, nil
}

// install makes l the store's state; s.mu held or not yet shared.
func (s *Store) install(l *loaded) {
	s.mem = l.mem
	s.nextLSN = l.lastLSN + 1
	s.segment = l.segment
	s.logBytes = l.logBytes
	s.snapSize = l.snapBytes
	s.watched = map[string]func(){}
	s.failed = nil
}

// Close stops the store after writing what is pending; calls after it fail.
func (s *Store) Close() error {
	s.mu.Lock()
	select {
	case <-s.closing:
		s.mu.Unlock()
		return nil
	default:
	}
	close(s.closing)
	s.mu.Unlock()
	if s.backupLn != nil {
		s.backupLn.Close()
	}
	s.wg.Wait()
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	return s.db.Close()
}

// errClosed is what calls get after Close.
var errClosed = fmt.Errorf("embedded store closed: %w", queue.ErrUnavailable)

// call runs fn on the memory store under the lock. fn returns the record of
// its call when it changed something, else nil. call returns once all that
// fn could have seen is on disk.
func (s *Store) call(ctx context.Context, eventID string, fn func(m *memstore.Store) *op) error {
	s.mu.Lock()
	if err := s.refusal(); err != nil {
		s.mu.Unlock()
		return err
	}
	if eventID != "" {
		s.watch(eventID)
	}
	s.opNow = s.cfg.Now()
	o := fn(s.mem)
	switch {
	case o != nil:
		s.appendLocked(o)
	case len(s.captured) > 0:
		// A change with no record would be lost on restart: refuse it and
		// go back to what the disk holds.
		s.captured = nil
		s.mu.Unlock()
		err := errors.New("a change was made that no record describes")
		s.log.Error("Embedded store: internal error; reloading from disk", "error", err)
		s.failNow(err)
		return fmt.Errorf("%w: %v", queue.ErrUnavailable, err)
	}
	b := s.last
	s.mu.Unlock()
	return s.wait(ctx, b)
}

// refusal is why a call must be refused now, or nil; s.mu held.
func (s *Store) refusal() error {
	select {
	case <-s.closing:
		return errClosed
	default:
	}
	if s.failed != nil {
		return fmt.Errorf("%w: embedded store: %v", queue.ErrUnavailable, s.failed)
	}
	return nil
}

// watch has mem hand the event's changes to s.captured; s.mu held.
func (s *Store) watch(eventID string) {
	if _, ok := s.watched[eventID]; ok {
		return
	}
	s.watched[eventID] = s.mem.Watch(eventID, capture{s})
}

// capture collects the changes of the call in progress (s.mu is held).
type capture struct{ s *Store }

func (capture) Subscribed()              {}
func (c capture) Change(ch queue.Change) { c.s.captured = append(c.s.captured, ch) }

// appendLocked adds o's record, and the changes its call made, to the open
// batch; s.mu held.
func (s *Store) appendLocked(o *op) {
	v := o.encode()
	s.open.recs = append(s.open.recs, rec{lsn: s.nextLSN, segment: s.segment, value: v})
	s.open.changes = append(s.open.changes, s.captured...)
	s.captured = nil
	s.nextLSN++
	s.last = s.open
	s.logBytes += int64(len(v))
	select {
	case s.kick <- struct{}{}:
	default:
	}
	if !s.snapping && s.logBytes >= max(s.cfg.SnapshotBytes, s.snapSize) {
		s.snapping = true
		s.wg.Go(s.snapshot)
	}
}

// wait waits until b is on disk.
func (s *Store) wait(ctx context.Context, b *batch) error {
	if b == nil {
		return nil
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", queue.ErrUnavailable, ctx.Err())
	}
	if b.err != nil {
		return fmt.Errorf("%w: embedded store: %v", queue.ErrUnavailable, b.err)
	}
	return nil
}
