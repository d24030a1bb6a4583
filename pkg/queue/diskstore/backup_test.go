package diskstore

import (
	"bytes"
	"strings"
	"testing"
)

// TestBackupWhileServing: a backup taken from a serving store, and one
// taken with the store closed, each open as a store holding exactly the
// state at the time of the backup; a backup never overwrites one.
func TestBackupWhileServing(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Outbox: true, SnapshotBytes: 4096}
	s := openT(t, cfg)
	w := newWorkload(3)
	for range 500 {
		w.step(t, s)
	}
	want := dumpOf(s)
	dest := t.TempDir()
	res, err := BackupDir(cfg.Dir, dest)
	if err != nil || !res.Live {
		t.Fatalf("backup while serving: %+v, %v", res, err)
	}
	for range 100 {
		w.step(t, s) // changes after the backup are not in it
	}
	after := dumpOf(s)
	if _, err := BackupDir(cfg.Dir, dest); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("a second backup into the same directory: %v", err)
	}
	s.Close()

	b := openT(t, Config{Dir: dest, Outbox: true})
	if got := dumpOf(b); !bytes.Equal(got, want) {
		t.Fatalf("the live backup does not hold the state it was taken at")
	}
	b.Close()

	dest2 := t.TempDir()
	if res, err := BackupDir(cfg.Dir, dest2); err != nil || res.Live {
		t.Fatalf("backup of a stopped store: %+v, %v", res, err)
	}
	b = openT(t, Config{Dir: dest2, Outbox: true})
	defer b.Close()
	if got := dumpOf(b); !bytes.Equal(got, after) {
		t.Fatalf("the offline backup does not hold the state it was taken at")
	}
}
