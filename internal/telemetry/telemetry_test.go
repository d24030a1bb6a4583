package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestOTLPExport: with an endpoint, spans and metrics reach an OTLP/HTTP
// receiver at its /v1/traces and /v1/metrics when the providers flush.
func TestOTLPExport(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer rx.Close()
	ctx := context.Background()
	tel, err := New(ctx, Config{OTLPEndpoint: rx.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if !tel.Recording() || !tel.Tracing() || tel.Handler() != nil {
		t.Fatalf("recording %v, tracing %v, handler %v", tel.Recording(), tel.Tracing(), tel.Handler())
	}
	_, span := tel.Tracers.Tracer("test").Start(ctx, "JoinQueue")
	span.End()
	c, err := tel.Meters.Meter("test").Int64Counter("joins")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 1)
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["POST /v1/traces"] == 0 || got["POST /v1/metrics"] == 0 {
		t.Fatalf("receiver got %v", got)
	}
}

// TestNothingByDefault: the zero Config records nothing.
func TestNothingByDefault(t *testing.T) {
	tel, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if tel.Recording() || tel.Tracing() || tel.Handler() != nil {
		t.Fatalf("recording %v, tracing %v, handler %v", tel.Recording(), tel.Tracing(), tel.Handler())
	}
}
