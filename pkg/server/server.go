// Package server wires the waiting room together: the store, the fan-out,
// the domain service and its processor, checkout tokens, the Kafka relay and
// consumer, health, and one HTTP server that speaks gRPC, gRPC-Web and the
// Connect protocol on one port. Config says what to build; ConfigFromEnv
// reads it from the environment.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/grpchealth"

	"github.com/waitroom/waitroom/internal/telemetry"
	"github.com/waitroom/waitroom/pkg/api"
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
	// debugLn and debug serve the profiler and the stats when DebugAddr is set.
	debugLn net.Listener
	debug   *http.Server
	// metricsLn and metrics serve /metrics unless MetricsAddr is off.
	metricsLn net.Listener
	metrics   *http.Server
	tel       *telemetry.Telemetry
	domain    *telemetry.Domain // nil when no metric is recorded
	svc       *queue.Service
	hub       *fanout.Hub
	store     queue.Store
	health    *grpchealth.StaticChecker
	relay     *kafka.Relay // nil without Kafka
	// stopping is set once shutdown begins, so health stays NOT_SERVING.
	healthMu sync.Mutex
	stopping bool
	// background runs next to the HTTP server until Serve's context ends.
	background  []func(context.Context)
	closers     []func()
	joinAuth    api.JoinAuth
	joinLimit   *api.JoinLimiter
	streamLimit *api.StreamLimiter
	conns       *connLimit
	h2guard     *h2Guard
}

// New builds a replica and binds its ports; Serve runs it. An error names
// the setting (by its environment variable) that it comes from.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := s.startTelemetry(ctx); err != nil {
		return nil, err
	}
	if s.store, err = s.openStore(ctx); err != nil {
		return nil, err
	}
	tokens, jwks, err := newTokens(cfg, s.store, s.log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, tokens.Close)
	if s.joinAuth, err = newJoinAuth(cfg.JoinAuth, s.log); err != nil {
		return nil, err
	}
	lcfg := cfg.JoinLimit
	if lcfg.Logger == nil {
		lcfg.Logger = s.log
	}
	s.joinLimit = api.NewJoinLimiter(lcfg)
	s.streamLimit = api.NewStreamLimiter(cfg.StreamLimit, cfg.JoinLimit.TrustedProxies)
	if err := s.startRelay(); err != nil {
		return nil, err
	}
	s.hub = fanout.New(s.store, s.fanoutConfig())
	s.svc = queue.NewService(s.store, tokens, s.hub, s.queueConfig())
	s.closers = append(s.closers, s.svc.Close)
	s.background = append(s.background, func(ctx context.Context) { _ = s.svc.RunProcessor(ctx) })
	s.background = append(s.background, func(ctx context.Context) { _ = s.svc.RunPresence(ctx) })
	s.background = append(s.background, func(ctx context.Context) { _ = s.svc.RunStreamReport(ctx) })
	if err := s.startConsumer(); err != nil {
		return nil, err
	}
	s.health = grpchealth.NewStaticChecker(serviceNames...)
	s.background = append(s.background, s.watchHealth)
	routes, err := s.routes(jwks)
	if err != nil {
		return nil, err
	}
	s.http = newHTTPServer(cfg, routes, s.log)
	if err := s.listen(); err != nil {
		return nil, err
	}
	return s, nil
}

// queueConfig is cfg.Queue with the server's logger and, with Kafka, a
// change wakes the relay so its event goes out at once.
func (s *Server) queueConfig() queue.Config {
	q := s.cfg.Queue
	if q.Logger == nil {
		q.Logger = s.log
	}
	if s.relay != nil {
		q.Changed = s.relay.WakeEvent
	}
	if s.domain != nil {
		q.Observer = s.domain
	}
	return q
}

// fanoutConfig is cfg.Fanout with the server's logger.
func (s *Server) fanoutConfig() fanout.Config {
	f := s.cfg.Fanout
	if f.Logger == nil {
		f.Logger = s.log
	}
	return f
}

// listen binds the public port and, when set, the debug port.
func (s *Server) listen() error {
	var err error
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR=%q: %w", s.cfg.ListenAddr, err)
	}
	s.h2guard = newH2Guard(ln, s.cfg.H2ResetsPerSecond, s.cfg.H2ResetBurst, s.log)
	s.conns = newConnLimit(s.h2guard, s.cfg.MaxConnsPerIP, s.cfg.JoinLimit.TrustedProxies, s.log)
	s.ln = s.conns
	if s.cfg.DebugAddr != "" {
		if s.debugLn, err = net.Listen("tcp", s.cfg.DebugAddr); err != nil {
			return fmt.Errorf("DEBUG_ADDR=%q: %w", s.cfg.DebugAddr, err)
		}
		s.debug = &http.Server{Handler: s.debugRoutes(), ReadHeaderTimeout: 10 * time.Second}
	}
	return s.listenMetrics()
}

// Addr is the bound address (useful with ListenAddr "127.0.0.1:0").
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// DebugAddr is the debug listener's bound address, or nil without DebugAddr.
func (s *Server) DebugAddr() net.Addr {
	if s.debugLn == nil {
		return nil
	}
	return s.debugLn.Addr()
}

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
	if s.metrics != nil {
		go s.metrics.Serve(s.metricsLn)
		s.log.Info("Metrics listening", "addr", s.metricsLn.Addr().String(), "path", "/metrics")
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
	if s.metrics != nil {
		s.metrics.Close()
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
	if s.metricsLn != nil {
		s.metricsLn.Close()
	}
}
