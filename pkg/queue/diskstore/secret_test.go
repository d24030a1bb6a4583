package diskstore

import (
	"bytes"
	"errors"
	"testing"
)

// TestSecretIsKeptAndBackedUp: a secret is made once, read back the same
// after a restart and from a backup, and a failed generation keeps nothing.
func TestSecretIsKeptAndBackedUp(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), SnapshotBytes: 2048}
	s := openT(t, cfg)
	boom := errors.New("no entropy")
	if _, _, err := s.Secret("k", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("a failed generation: %v", err)
	}
	calls := 0
	gen := func() ([]byte, error) { calls++; return []byte{byte(calls), 2, 3}, nil }
	v, created, err := s.Secret("k", gen)
	if err != nil || !created || !bytes.Equal(v, []byte{1, 2, 3}) {
		t.Fatalf("first Secret: %x, %v, %v", v, created, err)
	}
	if v, created, err = s.Secret("k", gen); err != nil || created || !bytes.Equal(v, []byte{1, 2, 3}) {
		t.Fatalf("second Secret: %x, %v, %v", v, created, err)
	}
	if other, _, _ := s.Secret("other", gen); bytes.Equal(other, v) {
		t.Fatal("two names share a value")
	}
	w := newWorkload(1)
	for range 300 { // past a snapshot or two: secrets are not log records
		w.step(t, s)
	}
	dest := t.TempDir()
	if _, err := BackupDir(cfg.Dir, dest); err != nil {
		t.Fatal(err)
	}
	s.Close()

	for _, dir := range []string{cfg.Dir, dest} {
		r := openT(t, Config{Dir: dir})
		v, created, err := r.Secret("k", gen)
		r.Close()
		if err != nil || created || !bytes.Equal(v, []byte{1, 2, 3}) {
			t.Fatalf("%s: Secret after reopening: %x, %v, %v", dir, v, created, err)
		}
	}
}
