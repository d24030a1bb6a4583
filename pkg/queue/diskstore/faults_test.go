package diskstore

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestSecondProcessRefused: a directory in use is refused at once, with a
// message that says so, and the store holding it is untouched.
func TestSecondProcessRefused(t *testing.T) {
	cfg := Config{Dir: t.TempDir()}
	s := openT(t, cfg)
	defer s.Close()
	w := newWorkload(1)
	for range 20 {
		w.step(t, s)
	}
	_, err := Open(cfg)
	if err == nil || !strings.Contains(err.Error(), "in use by another waitroom process") {
		t.Fatalf("second Open on a directory in use: %v", err)
	}
	w.step(t, s) // the first still works
}

// TestTornTailRecovered: a last record cut short (as a write cut mid-record
// would leave it) is found by its checksum; the store opens with every
// change before it, says what it dropped, and goes on from there.
func TestTornTailRecovered(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Outbox: true}
	s := openT(t, cfg)
	w := newWorkload(2)
	for range 200 {
		w.step(t, s)
	}
	want := dumpOf(s)
	lastOK := s.nextLSN - 1
	w.users = 1000 // a join is a change whatever the state
	for s.nextLSN == lastOK+1 {
		w.step(t, s)
	}
	s.Close()

	db, err := openDB(cfg.Dir, false)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		segs, _ := listBuckets(tx, 0)
		b := tx.Bucket(segmentName(segs[len(segs)-1]))
		k, v := b.Cursor().Last()
		if binary.BigEndian.Uint64(k) != lastOK+1 {
			t.Fatalf("last record %x, want %d", k, lastOK+1)
		}
		return b.Put(k, v[:len(v)-3])
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s = openT(t, cfg)
	defer s.Close()
	if got := dumpOf(s); !bytes.Equal(got, want) {
		t.Fatalf("after recovery the state is not the one before the torn record")
	}
	if !strings.Contains(logs.String(), "records_dropped=1") {
		t.Fatalf("recovery did not log what it dropped:\n%s", logs.String())
	}
	if s.nextLSN != lastOK+1 {
		t.Fatalf("next record %d, want %d", s.nextLSN, lastOK+1)
	}
	for range 50 {
		w.step(t, s)
	}
	want = dumpOf(s)
	s.Close()
	s = openT(t, cfg)
	t.Cleanup(func() { s.Close() })
	if got := dumpOf(s); !bytes.Equal(got, want) {
		t.Fatalf("changes after the recovery did not survive a restart")
	}
}
