// Package servertest runs a whole waitroom server inside a test, as
// net/http/httptest runs an HTTP server: built from a typed server.Config,
// on a loopback port, stopped when the test ends. Every end-to-end test and
// benchmark starts its server here.
package servertest

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/server"
)

// Server is a running server. The embedded *server.Server gives its Addr,
// DebugAddr and Service.
type Server struct {
	*server.Server
	// URL is the public port's base URL, "http://127.0.0.1:<port>".
	URL  string
	stop func()
}

// Start builds a server from cfg and serves it until the test ends. It
// listens on 127.0.0.1:0 unless cfg.ListenAddr is set (and serves its
// metrics on another 127.0.0.1:0 unless cfg.MetricsAddr is set), and runs the memory
// store unless cfg.Store says otherwise (a disk store without a DataDir gets
// the test's own temporary directory); everything else is as cfg says, so a
// field left zero takes its default as in production (a nil Logger
// discards the logs: pass Logger(tb) to see them).
func Start(tb testing.TB, cfg server.Config) *Server {
	tb.Helper()
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	if cfg.MetricsAddr == "" {
		cfg.MetricsAddr = "127.0.0.1:0"
	}
	if cfg.Store == "" {
		cfg.Store = server.StoreMemory
	}
	if cfg.Store == server.StoreDisk && cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	s := &Server{Server: srv, URL: "http://" + srv.Addr().String()}
	s.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	tb.Cleanup(s.stop)
	return s
}

// Stop shuts the server down gracefully and waits for it. The test's cleanup
// calls it too; calling it again does nothing.
func (s *Server) Stop() { s.stop() }

// Client returns a WaitroomService client of the server over cleartext
// HTTP/2, with the Connect protocol unless opts say otherwise.
func (s *Server) Client(opts ...connect.ClientOption) waitroomv1connect.WaitroomServiceClient {
	return waitroomv1connect.NewWaitroomServiceClient(H2CClient(), s.URL, opts...)
}

// H2CClient is an HTTP client that speaks cleartext HTTP/2, as gRPC clients
// and the load tool do, with a connection pool of its own.
func H2CClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// Logger writes the server's warnings and errors to the test's log; with
// WAITROOM_TEST_LOG set it writes every line, debug included.
func Logger(tb testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("WAITROOM_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
