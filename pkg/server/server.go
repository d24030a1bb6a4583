// Package server wires the waiting room together: the store, the domain
// service and its processor, checkout tokens, queue events, and one HTTP
// server that speaks gRPC, gRPC-Web and the Connect protocol on one port.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"golang.org/x/net/http2"

	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// Server is one waitroom replica.
type Server struct {
	cfg  Config
	log  *slog.Logger
	ln   net.Listener
	http *http.Server
	// debugLn and debug serve the profiler when DEBUG_ADDR is set.
	debugLn net.Listener
	debug   *http.Server
	svc     *queue.Service
	store   queue.Store
	health  *grpchealth.StaticChecker
	relay   *kafka.Relay // nil unless KAFKA_BROKERS is set
	// stopping is set once shutdown begins, so health stays NOT_SERVING.
	healthMu sync.Mutex
	stopping bool
	// background runs next to the HTTP server until Serve's context ends.
	background []func(context.Context)
	closers    []func()
}

// New builds a replica and binds its port; Serve runs it.
func New(ctx context.Context, cfg Config, log *slog.Logger) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	store, err := s.openStore(ctx)
	if err != nil {
		return nil, err
	}
	s.store = store
	tokens, jwks, err := newTokens(cfg, log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, tokens.Close)
	if err := s.startRelay(); err != nil {
		return nil, err
	}
	qcfg := cfg.Queue
	if s.relay != nil {
		// A change wakes the relay, so its event goes out at once.
		qcfg.Changed = s.relay.WakeEvent
	}
	qcfg.Logger = log
	fcfg := cfg.Fanout
	fcfg.Logger = log
	s.svc = queue.NewService(store, tokens, fanout.New(store, fcfg), qcfg)
	s.closers = append(s.closers, s.svc.Close)
	s.background = append(s.background, func(ctx context.Context) { _ = s.svc.RunProcessor(ctx) })
	if err := s.startConsumer(); err != nil {
		return nil, err
	}

	s.health = grpchealth.NewStaticChecker(serviceNames...)
	s.background = append(s.background, s.watchHealth)
	s.http = newHTTPServer(cfg, s.routes(jwks), log)
	s.ln, err = net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("LISTEN_ADDR=%q: %w", cfg.ListenAddr, err)
	}
	if cfg.DebugAddr != "" {
		s.debugLn, err = net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			return nil, fmt.Errorf("DEBUG_ADDR=%q: %w", cfg.DebugAddr, err)
		}
		s.debug = &http.Server{Handler: s.debugRoutes(), ReadHeaderTimeout: 10 * time.Second}
	}
	return s, nil
}

// DebugAddr is the profiler's bound address, or nil without DEBUG_ADDR.
func (s *Server) DebugAddr() net.Addr {
	if s.debugLn == nil {
		return nil
	}
	return s.debugLn.Addr()
}

// Addr is the bound address (useful with LISTEN_ADDR=127.0.0.1:0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Service is the domain service, for tests.
func (s *Server) Service() *queue.Service { return s.svc }

// Serve serves until ctx ends, then stops gracefully: it reports NOT_SERVING,
// ends open streams with Unavailable so clients reconnect elsewhere, lets
// in-flight calls finish within ShutdownTimeout, and stops the background work.
func (s *Server) Serve(ctx context.Context) error {
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, run := range s.background {
		wg.Go(func() { run(bg) })
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	s.log.Info("Waitroom listening", "addr", s.ln.Addr().String(), "store", s.storeName())
	if s.debug != nil {
		go s.debug.Serve(s.debugLn)
		s.log.Info("Profiler listening", "addr", s.debugLn.Addr().String())
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.log.Info("Shutting down")
	s.setHealth(grpchealth.StatusNotServing, true)
	s.svc.Close() // ends streams first: Shutdown waits for active requests
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if serr := s.http.Shutdown(sctx); serr != nil {
		s.log.Warn("Graceful shutdown timed out; closing connections", "error", serr)
		s.http.Close()
	}
	if s.debug != nil {
		s.debug.Close()
	}
	stopBG()
	wg.Wait()
	s.close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
	if s.ln != nil {
		s.ln.Close()
	}
	if s.debugLn != nil {
		s.debugLn.Close()
	}
}

// watchHealth reports NOT_SERVING while the store cannot be reached.
func (s *Server) watchHealth(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	serving := true
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.store.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && serving:
			s.log.Warn("Store unreachable; reporting NOT_SERVING", "error", err)
			serving = false
		case err == nil && !serving:
			s.log.Info("Store reachable again; reporting SERVING")
			serving = true
		}
		st := grpchealth.StatusServing
		if !serving {
			st = grpchealth.StatusNotServing
		}
		s.setHealth(st, false)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// setHealth reports st for every service; once stop is set, nothing changes
// it back from NOT_SERVING.
func (s *Server) setHealth(st grpchealth.Status, stop bool) {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	if s.stopping {
		return
	}
	s.stopping = stop
	for _, name := range append([]string{""}, serviceNames...) {
		s.health.SetStatus(name, st)
	}
}

// newHTTPServer serves HTTP/1.1 and cleartext HTTP/2 on one port, without a
// WriteTimeout (it would cut long streams): HTTP/2 pings find dead peers and a
// write that makes no progress closes its connection.
//
// HTTP/2 is served by golang.org/x/net/http2 (configured through the same
// http.Server settings) only to choose its write scheduler: the standard
// library's round-robin scheduler walks every open stream of a connection for
// each frame it writes, which with a thousand mostly idle position streams
// per connection cost more CPU than the rest of a message's path. The random
// scheduler only looks at streams with frames waiting.
func newHTTPServer(cfg Config, h http.Handler, log *slog.Logger) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: int(cfg.MaxStreamsPerConn),
			// Requests are small; keeping per-stream receive buffers small
			// keeps 100k mostly idle streams cheap.
			MaxReceiveBufferPerStream: 64 << 10,
			SendPingTimeout:           30 * time.Second,
			PingTimeout:               15 * time.Second,
			WriteByteTimeout:          30 * time.Second,
		},
	}
	h2 := &http2.Server{NewWriteScheduler: func() http2.WriteScheduler { return http2.NewRandomWriteScheduler() }}
	if err := http2.ConfigureServer(srv, h2); err != nil {
		// Only a TLS configuration can make it fail, and this server has none.
		log.Warn("HTTP/2 write scheduler not configured; using the default", "error", err)
	}
	return srv
}

// handlerOptions apply to every Connect handler.
func handlerOptions(log *slog.Logger) []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithReadMaxBytes(64 << 10),
		// Position updates are about a hundred bytes: gzip would make them
		// larger and, per message, cost more CPU than everything else a
		// stream does (a compressor reset is tens of microseconds).
		connect.WithCompressMinBytes(compressMinBytes),
		connect.WithRecover(func(_ context.Context, spec connect.Spec, _ http.Header, p any) error {
			log.Error("Handler panicked", "procedure", spec.Procedure, "panic", p, "stack", string(debug.Stack()))
			return connect.NewError(connect.CodeInternal, fmt.Errorf("internal error"))
		}),
	}
}

// compressMinBytes is the smallest message worth compressing.
const compressMinBytes = 1 << 10

var readFile = os.ReadFile
