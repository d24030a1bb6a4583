//go:build linux

package diskstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// fullDiskChild marks the child process that runs the full-disk test.
const fullDiskChild = "WAITROOM_FULL_DISK_CHILD"

// TestFullDiskRefusesAndRecovers fills the disk as far as the store can
// tell: a file-size limit (RLIMIT_FSIZE, which fails writes past it as a
// full disk does) stops the database file from growing. The join whose
// commit fails, and every call until the state is read back, get
// queue.ErrUnavailable; nothing of the failed join remains; every join
// acknowledged before it is kept; and once there is room again the store
// takes joins, all of which survive a restart.
//
// The limit holds for the whole process, so the test runs in a child
// process of its own: in the test binary itself it would also stop the
// test framework's own files (its -test.testlogfile) from growing, and fail
// the package for a reason that has nothing to do with the store.
func TestFullDiskRefusesAndRecovers(t *testing.T) {
	if os.Getenv(fullDiskChild) == "" {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestFullDiskRefusesAndRecovers$", "-test.v")
		cmd.Env = append(os.Environ(), fullDiskChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("full-disk test in a child process: %v\n%s", err, out)
		}
		if bytes.Contains(out, []byte("--- SKIP")) {
			t.Skipf("child skipped:\n%s", out)
		}
		return
	}
	signal.Ignore(syscall.SIGXFSZ) // the write fails with EFBIG instead
	defer signal.Reset(syscall.SIGXFSZ)
	cfg := Config{Dir: t.TempDir(), SnapshotBytes: 1 << 40}
	s := openT(t, cfg)
	defer func() { s.Close() }()
	join := func(i int) (string, error) {
		id := queue.NewSessionID("ev")
		_, _, _, err := s.Join(t.Context(), queue.JoinParams{SessionID: id, UserID: fmt.Sprintf("u%d", i), EventID: "ev",
			Now: time.Now(), TTL: time.Hour, NewEvent: queue.Event{ID: "ev", State: queue.EventPaused, MaxConcurrent: 1, CheckoutWindow: time.Minute}})
		return id, err
	}
	var acked []string
	for i := range 100 {
		id, err := join(i)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, id)
	}

	fi, err := os.Stat(filepath.Join(cfg.Dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	full := old
	full.Cur = uint64(fi.Size())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &full); err != nil {
		t.Skipf("cannot limit the file size: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()

	var failed string
	for i := 100; failed == ""; i++ {
		if i == 200_000 {
			t.Fatal("the database file never needed to grow")
		}
		id, err := join(i)
		switch {
		case err == nil:
			acked = append(acked, id)
		case errors.Is(err, queue.ErrUnavailable):
			failed = id
		default:
			t.Fatalf("join on a full disk: %v, want ErrUnavailable", err)
		}
	}
	restore()
	// Calls are refused until the state is read back; then the failed join
	// is gone and every acknowledged one is there.
	for {
		_, _, err := s.Session(t.Context(), failed)
		if errors.Is(err, queue.ErrSessionNotFound) {
			break
		}
		if !errors.Is(err, queue.ErrUnavailable) {
			t.Fatalf("the join that failed to be written: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 10 {
		id, err := join(1_000_000 + i)
		if err != nil {
			t.Fatalf("join with room again: %v", err)
		}
		acked = append(acked, id)
	}
	s.Close()
	s = openT(t, cfg)
	for _, id := range acked {
		if _, _, err := s.Session(t.Context(), id); err != nil {
			t.Fatalf("acknowledged session %s after a full disk and a restart: %v", id, err)
		}
	}
	if _, _, err := s.Session(t.Context(), failed); !errors.Is(err, queue.ErrSessionNotFound) {
		t.Fatalf("the failed join after a restart: %v", err)
	}
	_, st, _ := s.Event(t.Context(), "ev")
	if st.QueueLength != int64(len(acked)) {
		t.Fatalf("queue length %d, want the %d acknowledged joins", st.QueueLength, len(acked))
	}
}
