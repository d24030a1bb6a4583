package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/diskstore"
)

// TestBackupCommand: `waitroom backup DIR` copies the store a server holds
// open, and the copy opens as a store with the same sessions.
func TestBackupCommand(t *testing.T) {
	data, dest := t.TempDir(), t.TempDir()
	s, err := diskstore.Open(diskstore.Config{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := queue.NewSessionID("ev")
	if _, _, _, err := s.Join(t.Context(), queue.JoinParams{SessionID: id, UserID: "u", EventID: "ev", Now: time.Now(), TTL: time.Hour,
		NewEvent: queue.Event{ID: "ev", State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	env := map[string]string{"WAITROOM_DATA_DIR": data}
	if err := run([]string{"backup", dest}, func(k string) string { return env[k] }, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "from the running server") {
		t.Fatalf("backup said: %s", out.String())
	}
	c, err := diskstore.Open(diskstore.Config{Dir: dest})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, pl, err := c.Session(t.Context(), id); err != nil || got.UserID != "u" || pl.Position != 1 {
		t.Fatalf("the backup's session: %+v %+v %v", got, pl, err)
	}
	if err := run([]string{"backup"}, func(string) string { return "" }, &out, &out); err == nil {
		t.Fatalf("backup without a directory succeeded")
	}
}
