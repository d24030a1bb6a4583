package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/stats"
	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/server"
)

// TestJoinLimitPerAddress: behind a trusted proxy, one client address over
// its burst is refused with ResourceExhausted and a retry hint, the queue is
// untouched, another address and a trusted backend join as before, and the
// refusal is counted in /debug/stats.
func TestJoinLimitPerAddress(t *testing.T) {
	s := newShop(t)
	cfg := s.tokenMode(server.Config{DebugAddr: "127.0.0.1:0"})
	cfg.JoinLimit = api.JoinLimitConfig{PerSecond: 0.001, Burst: 2,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	ts := startServer(t, cfg)
	c := ts.Client()
	joinFrom := func(addr, bearer, user string) error {
		req := connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: user, EventId: "gig"})
		req.Header().Set("X-Forwarded-For", addr)
		req.Header().Set("Authorization", "Bearer "+bearer)
		_, err := c.JoinQueue(context.Background(), req)
		return err
	}
	for _, u := range []string{"u1", "u2"} {
		if err := joinFrom("203.0.113.7", s.token(u, nil), ""); err != nil {
			t.Fatalf("join of %s within the burst: %v", u, err)
		}
	}
	err := joinFrom("203.0.113.7", s.token("u3", nil), "")
	var ce *connect.Error
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !errors.As(err, &ce) || !hasRetryInfo(ce) {
		t.Fatalf("over the burst: %v, want ResourceExhausted with RetryInfo", err)
	}
	_, st, err := ts.Service().Event(context.Background(), "gig")
	if err != nil || st.QueueLength != 2 {
		t.Fatalf("queue after the refusal: %d (%v), want 2", st.QueueLength, err)
	}
	if err := joinFrom("203.0.113.8", s.token("u4", nil), ""); err != nil {
		t.Fatalf("another address: %v", err)
	}
	for _, u := range []string{"b1", "b2", "b3"} {
		if err := joinFrom("203.0.113.7", serviceToken, u); err != nil {
			t.Fatalf("a trusted backend from the limited address: %v", err)
		}
	}
	res, err := http.Get("http://" + ts.DebugAddr().String() + "/debug/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc stats.Server
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || doc.Limits.JoinsPerIP != 1 {
		t.Fatalf("/debug/stats limits %+v (%v), want one refused join", doc.Limits, err)
	}
}

func hasRetryInfo(ce *connect.Error) bool {
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if ri, ok := v.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
				return true
			}
		}
	}
	return false
}

// TestStreamLimits: streams over the per-session, per-address or per-replica
// cap are refused with ResourceExhausted before any message, the streams
// already open are unaffected, and a closed stream frees its place.
func TestStreamLimits(t *testing.T) {
	cfg := server.Config{
		JoinLimit:   api.JoinLimitConfig{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		StreamLimit: api.StreamLimitConfig{PerSession: 2, PerIP: 3, Max: 4},
	}
	cfg.Queue.DefaultMaxConcurrent = 10
	ts := startServer(t, cfg)
	c := ts.Client()
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = join(t, c, "u"+string(rune('a'+i)), "gig").SessionId
	}
	type open struct {
		cancel context.CancelFunc
		err    error
	}
	openFrom := func(addr, session string) open {
		ctx, cancel := context.WithCancel(context.Background())
		req := connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: session})
		req.Header().Set("X-Forwarded-For", addr)
		st, err := c.StreamQueuePosition(ctx, req)
		if err == nil && !st.Receive() {
			err = st.Err()
		}
		return open{cancel, err}
	}
	wantOpen := func(what string, o open) {
		t.Helper()
		if o.err != nil {
			t.Fatalf("%s: %v", what, o.err)
		}
	}
	wantRefused := func(what string, o open, msg string) {
		t.Helper()
		defer o.cancel()
		var ce *connect.Error
		if !errors.As(o.err, &ce) || ce.Code() != connect.CodeResourceExhausted || !strings.HasPrefix(ce.Message(), msg) {
			t.Fatalf("%s: %v, want ResourceExhausted %q", what, o.err, msg)
		}
	}
	a1 := openFrom("203.0.113.1", ids[0])
	wantOpen("first stream", a1)
	wantOpen("second on the session", openFrom("203.0.113.1", ids[0]))
	wantRefused("third on the session", openFrom("203.0.113.2", ids[0]), "too many streams open on this session")
	wantOpen("third from the address", openFrom("203.0.113.1", ids[1]))
	wantRefused("fourth from the address", openFrom("203.0.113.1", ids[2]), "too many streams open from this address")
	wantOpen("another address", openFrom("203.0.113.2", ids[2]))
	wantRefused("over the replica's ceiling", openFrom("203.0.113.3", ids[3]), "this server has as many streams open")
	a1.cancel()
	waitFor(t, "the closed stream's place freed", func() bool {
		o := openFrom("203.0.113.3", ids[3])
		if o.err == nil {
			return true
		}
		o.cancel()
		return false
	})
	if st := status(t, c, ids[0]); st.GetPosition() != 1 {
		t.Fatalf("refusals changed the queue: %v", st)
	}
}

// TestConnectionsPerAddress: a connection over the per-address cap is closed
// at once, the ones already open keep working, and a closed one frees its
// place.
func TestConnectionsPerAddress(t *testing.T) {
	ts := startServer(t, server.Config{MaxConnsPerIP: 2})
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", ts.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// closedByServer reports whether the server closed c without a word.
	closedByServer := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
	}
	a, b := dial(), dial()
	defer a.Close()
	third := dial()
	defer third.Close()
	if !closedByServer(third) {
		t.Fatal("a third connection from the address stayed open")
	}
	// The first two still serve.
	for _, c := range []net.Conn{a, b} {
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
			t.Fatalf("an open connection: %q, %v", line, err)
		}
	}
	b.Close()
	waitFor(t, "the closed connection's place freed", func() bool {
		c := dial()
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.HasPrefix(line, "HTTP/1.1 200")
	})
}
