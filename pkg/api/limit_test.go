package api

import (
	"errors"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

func TestJoinLimitClientAddr(t *testing.T) {
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	for _, c := range []struct {
		name, peer string
		hdr        http.Header
		want       string
	}{
		{"untrusted peer: headers ignored", "198.51.100.9:5000", http.Header{"X-Forwarded-For": {"1.2.3.4"}}, "198.51.100.9"},
		{"trusted peer, no header", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"right-most untrusted hop", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"6.6.6.6, 1.2.3.4", "10.0.0.2"}}, "1.2.3.4"},
		{"all hops trusted", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"10.0.0.3, 10.0.0.2"}}, "10.0.0.3"},
		{"unreadable hop stops the walk", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"1.2.3.4, junk"}}, "127.0.0.1"},
		{"Forwarded with an IPv6 node", "127.0.0.1:5000", http.Header{"Forwarded": {`for="[2001:db8::1]:4711";proto=https`}}, "2001:db8::1"},
		{"Forwarded, several", "10.9.9.9:1", http.Header{"Forwarded": {"for=5.6.7.8, for=10.0.0.1:80"}}, "5.6.7.8"},
		{"IPv4-mapped peer", "[::ffff:198.51.100.9]:5000", nil, "198.51.100.9"},
	} {
		got, ok := proxies.Client(c.peer, c.hdr)
		if !ok || got.String() != c.want {
			t.Errorf("%s: %v %t, want %s", c.name, got, ok, c.want)
		}
	}
	if _, ok := proxies.Client("@", nil); ok {
		t.Error("a peer that is not an address counted")
	}
}

func TestJoinLimitBucket(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	l := NewJoinLimiter(JoinLimitConfig{PerSecond: 1, Burst: 2, Now: func() time.Time { return now }})
	a, b := "198.51.100.1:1", "198.51.100.2:1"
	for i := range 2 {
		if err := l.allow(a, nil); err != nil {
			t.Fatalf("join %d within the burst: %v", i+1, err)
		}
	}
	err := l.allow(a, nil)
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Message() != "too many joins from this address; retry later (in 1s)" {
		t.Fatalf("over the burst: %v", err)
	}
	if delay := retryDelay(t, ce); delay != time.Second {
		t.Fatalf("RetryInfo %v, want 1s", delay)
	}
	if err := l.allow(b, nil); err != nil {
		t.Fatalf("another address: %v", err)
	}
	now = now.Add(time.Second)
	if err := l.allow(a, nil); err != nil {
		t.Fatalf("after the retry delay: %v", err)
	}
	if l.Refused() != 1 {
		t.Fatalf("refused %d, want 1", l.Refused())
	}
	off := NewJoinLimiter(JoinLimitConfig{PerSecond: -1, Burst: 1})
	for range 10 {
		if err := off.allow(a, nil); err != nil {
			t.Fatalf("limit off: %v", err)
		}
	}
}

func retryDelay(t *testing.T, ce *connect.Error) time.Duration {
	t.Helper()
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			t.Fatal(err)
		}
		if ri, ok := v.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	t.Fatal("no RetryInfo detail")
	return 0
}
