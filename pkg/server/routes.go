package server

import (
	"net/http"
	"net/http/pprof"

	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/rs/cors"

	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/web"
)

// serviceNames are the services reflection lists and health reports on.
var serviceNames = []string{
	waitroomv1connect.WaitroomServiceName,
	waitroomv1connect.EventAdminServiceName,
}

// routes mounts every handler on one mux.
func (s *Server) routes(jwks http.Handler) http.Handler {
	opts := handlerOptions(s.log)
	mux := http.NewServeMux()
	mux.Handle(waitroomv1connect.NewWaitroomServiceHandler(&waitroomHandler{svc: s.svc, log: s.log}, opts...))
	mux.Handle(waitroomv1connect.NewEventAdminServiceHandler(&adminHandler{svc: s.svc, log: s.log, token: s.cfg.AdminToken}, opts...))
	reflector := grpcreflect.NewStaticReflector(append(serviceNames, grpchealth.HealthV1ServiceName)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle(grpchealth.NewHandler(s.health))
	mux.Handle("GET /.well-known/jwks.json", jwks)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("/e/", web.Handler())
	if s.cfg.Queue.CheckoutURL == defaultCheckoutURL {
		mux.HandleFunc("GET "+defaultCheckoutURL, demoCheckout)
	}
	return s.withCORS(mux)
}

// healthz answers load balancers that speak plain HTTP.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	res, _ := s.health.Check(r.Context(), &grpchealth.CheckRequest{})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if res == nil || res.Status != grpchealth.StatusServing {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not serving\n"))
		return
	}
	w.Write([]byte("ok\n"))
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

// debugRoutes are served only on DEBUG_ADDR: Go's profiler, which can stop
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
