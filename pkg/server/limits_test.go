package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"testing"

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
