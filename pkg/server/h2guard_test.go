package server_test

import (
	"testing"

	"golang.org/x/net/http2"

	"github.com/waitroom/waitroom/pkg/server"
)

// TestH2ResetFlood: a connection that opens and at once resets streams
// faster than its bucket allows gets GOAWAY with ENHANCE_YOUR_CALM, naming
// the last stream it opened, and is closed; the closing is counted.
func TestH2ResetFlood(t *testing.T) {
	// A bucket that barely refills: the outcome depends on the count of
	// resets, not on how fast this machine sends them.
	ts := startServer(t, server.Config{DebugAddr: "127.0.0.1:0", H2ResetsPerSecond: 0.01, H2ResetBurst: 50})
	c := dialH2(t, ts)
	var last uint32
	for id := uint32(1); id < 2000; id += 2 {
		if c.headers(id, "GET", "/healthz", true) != nil ||
			c.write(func() error { return c.fr.WriteRSTStream(id, http2.ErrCodeCancel) }) != nil {
			break // the server closed the connection
		}
		last = id
	}
	ga := c.until("GOAWAY", func(s h2Seen) bool { return s.typ == http2.FrameGoAway })
	if ga.err != nil || ga.code != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("got %+v, want GOAWAY ENHANCE_YOUR_CALM", ga)
	}
	// The 51st reset is the one over: stream 101 was the last one opened
	// before it.
	if ga.last != 101 || last < 101 {
		t.Fatalf("GOAWAY names stream %d (sent up to %d), want 101", ga.last, last)
	}
	if end := c.until("the connection closed", func(h2Seen) bool { return false }); end.err == nil {
		t.Fatal("the connection stayed open")
	}
	if n := debugStats(t, ts).Limits.H2ResetFloods; n != 1 {
		t.Fatalf("limits.h2_reset_floods = %d, want 1", n)
	}
	// A new connection is served.
	c = dialH2(t, ts)
	if err := c.headers(1, "GET", "/healthz", true); err != nil {
		t.Fatal(err)
	}
	if s := c.until("a response", func(s h2Seen) bool { return s.typ == http2.FrameHeaders }); s.status != "200" {
		t.Fatalf("after the flood: %+v", s)
	}
}

// TestH2HonestResets: a client that cancels a few streams, within the
// burst, keeps its connection, and its next request is answered.
func TestH2HonestResets(t *testing.T) {
	ts := startServer(t, server.Config{DebugAddr: "127.0.0.1:0", H2ResetsPerSecond: 0.01, H2ResetBurst: 50})
	c := dialH2(t, ts)
	for id := uint32(1); id <= 99; id += 2 { // 50 resets: the whole burst
		if err := c.headers(id, "GET", "/healthz", true); err != nil {
			t.Fatal(err)
		}
		if err := c.write(func() error { return c.fr.WriteRSTStream(id, http2.ErrCodeCancel) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.headers(101, "GET", "/healthz", true); err != nil {
		t.Fatal(err)
	}
	s := c.until("the response", func(s h2Seen) bool {
		return s.typ == http2.FrameGoAway || s.typ == http2.FrameHeaders && s.stream == 101
	})
	if s.err != nil || s.typ != http2.FrameHeaders || s.status != "200" {
		t.Fatalf("after a few cancels: %+v", s)
	}
	if n := debugStats(t, ts).Limits.H2ResetFloods; n != 0 {
		t.Fatalf("limits.h2_reset_floods = %d, want 0", n)
	}
}
