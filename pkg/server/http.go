package server

import (
	"log/slog"
	"net/http"
	"net/http/pprof"

	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/rs/cors"

	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/serveconf"
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

// newHTTPServer serves the routes with the settings every waitroom listener
// shares (internal/serveconf). A live peer that never opens one stream's flow
// control is the API's write deadline's to end
// (api.StreamLimitConfig.WriteTimeout), and one resetting streams too fast the
// listener's (h2Guard).
func newHTTPServer(cfg Config, h http.Handler, log *slog.Logger) *http.Server {
	srv, err := serveconf.HTTPServer(h, cfg.MaxStreamsPerConn, slog.NewLogLogger(log.Handler(), slog.LevelDebug))
	if err != nil {
		log.Warn("HTTP/2 write scheduler not configured; using the default", "error", err)
	}
	return srv
}
