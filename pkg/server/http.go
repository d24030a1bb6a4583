package server

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/rs/cors"
	"golang.org/x/net/http2"

	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/web"
)

// serviceNames are the services reflection lists and health reports on.
var serviceNames = []string{
	waitroomv1connect.WaitroomServiceName,
	waitroomv1connect.EventAdminServiceName,
}

// routes mounts every handler on one mux.
func (s *Server) routes(jwks http.Handler) (http.Handler, error) {
	acfg := api.Config{AdminToken: s.cfg.AdminToken, JoinAuth: s.joinAuth, JoinLimit: s.joinLimit, StreamLimit: s.streamLimit, Logger: s.log}
	var err error
	if acfg.Interceptors, err = s.rpcInterceptors(); err != nil {
		return nil, err
	}
	if s.domain != nil {
		acfg.Streams = s.domain
	}
	mux := http.NewServeMux()
	mux.Handle(api.NewWaitroomServiceHandler(s.svc, acfg))
	mux.Handle(api.NewEventAdminServiceHandler(s.svc, acfg))
	reflector := grpcreflect.NewStaticReflector(append(serviceNames, grpchealth.HealthV1ServiceName)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle(grpchealth.NewHandler(s.health))
	mux.Handle("GET /.well-known/jwks.json", jwks)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("/e/", web.Handler())
	for _, p := range web.AdminPatterns {
		mux.Handle(p, web.AdminHandler())
	}
	if servesDemoCheckout(s.cfg) {
		mux.HandleFunc("GET "+demoCheckoutPath, demoCheckout)
	}
	return s.withCORS(mux), nil
}

// withCORS lets browsers on the configured origins call the API.
func (s *Server) withCORS(h http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return h
	}
	return cors.New(cors.Options{
		AllowedOrigins: s.cfg.CORSOrigins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
		ExposedHeaders: connectcors.ExposedHeaders(),
		MaxAge:         7200,
	}).Handler(h)
}

// debugRoutes are served only on DebugAddr: Go's profiler, which can stop
// the world and reveals the server's internals, and the stats (memory,
// backlog, the last broker error), so never on the public port.
func (s *Server) debugRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/stats", s.serveStats)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// newHTTPServer serves HTTP/1.1 and cleartext HTTP/2 on one port, without a
// WriteTimeout (it would cut long streams): HTTP/2 pings find dead peers and a
// write that makes no progress closes its connection. A live peer that never
// opens one stream's flow control is the API's write deadline's to end
// (api.StreamLimitConfig.WriteTimeout), and one resetting streams too fast the
// listener's (h2Guard).
//
// HTTP/2 is served by golang.org/x/net/http2 (configured through the same
// http.Server settings) only to choose its write scheduler: the standard
// library's round-robin scheduler walks every open stream of a connection for
// each frame it writes, and a connection here holds up to MaxStreamsPerConn
// mostly idle position streams. The random scheduler only looks at streams
// with frames waiting.
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
