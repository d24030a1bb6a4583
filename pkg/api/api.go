// Package api serves the waiting room over Connect: the handlers of
// WaitroomService and EventAdminService, the one map from domain errors to
// Connect codes, and the admin API's authentication. It takes the service and
// its settings as arguments and reads no environment; the server package
// mounts it.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"connectrpc.com/connect"

	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/serveconf"
	"github.com/waitroom/waitroom/pkg/queue"
)

// Config tunes the handlers. The zero value serves WaitroomService and
// refuses every EventAdminService call.
type Config struct {
	// AdminToken is the bearer token EventAdminService requires; empty
	// disables that service.
	AdminToken string
	// JoinAuth says who may join as whom; the zero value is open mode.
	JoinAuth JoinAuth
	// JoinLimit limits joins per client address; nil is a limiter with the
	// defaults.
	JoinLimit *JoinLimiter
	// StreamLimit caps open position streams; nil is a limiter with the
	// defaults that trusts no proxy.
	StreamLimit *StreamLimiter
	// Interceptors run first, around every call of both services, before
	// authentication and limits: metrics and traces, which must see the
	// calls those refuse too.
	Interceptors []connect.Interceptor
	// Streams, when set, is told of each position update a stream writes.
	Streams StreamObserver
	// Logger receives the request failures worth a line; nil discards them.
	Logger *slog.Logger
}

// StreamObserver is told of each position update a stream wrote, with when
// the change it shows was made (View.ChangedAt: zero for none). It is
// called once per message on every stream: it must be cheap and never
// block.
type StreamObserver interface {
	Sent(changedAt time.Time, heartbeat bool)
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.JoinLimit == nil {
		c.JoinLimit = NewJoinLimiter(JoinLimitConfig{Logger: c.Logger})
	}
	if c.StreamLimit == nil {
		c.StreamLimit = NewStreamLimiter(StreamLimitConfig{}, nil)
	}
	return c
}

// NewWaitroomServiceHandler returns the path and handler of
// waitroom.v1.WaitroomService, the visitors' API, over svc.
func NewWaitroomServiceHandler(svc *queue.Service, cfg Config) (string, http.Handler) {
	cfg = cfg.withDefaults()
	h := &waitroomHandler{svc: svc, log: cfg.Logger, streams: cfg.Streams}
	opts := append(handlerOptions(cfg), connect.WithInterceptors(newJoinAuth(cfg.JoinAuth, cfg.JoinLimit), cfg.StreamLimit))
	path, handler := waitroomv1connect.NewWaitroomServiceHandler(h, opts...)
	return path, withWriteDeadline(cfg.StreamLimit.cfg.WriteTimeout, cfg.StreamLimit, handler)
}

// NewEventAdminServiceHandler returns the path and handler of
// waitroom.v1.EventAdminService, the operators' API, over svc. Every call,
// whatever its method, passes the bearer-token check first, and is logged as
// an audit line (audit.go) whether it passes or not.
func NewEventAdminServiceHandler(svc *queue.Service, cfg Config) (string, http.Handler) {
	cfg = cfg.withDefaults()
	h := &adminHandler{svc: svc, log: cfg.Logger}
	audit := adminAudit{log: cfg.Logger, proxies: cfg.StreamLimit.proxies}
	opts := append(handlerOptions(cfg), connect.WithInterceptors(audit, adminAuth{token: cfg.AdminToken}))
	opts = append(opts, strictJSONCodecs()...)
	return waitroomv1connect.NewEventAdminServiceHandler(h, opts...)
}

// handlerOptions apply to every handler.
func handlerOptions(cfg Config) []connect.HandlerOption {
	log := cfg.Logger
	return append(serveconf.HandlerOptions(),
		connect.WithInterceptors(cfg.Interceptors...),
		connect.WithRecover(func(_ context.Context, spec connect.Spec, _ http.Header, p any) error {
			log.Error("Handler panicked", "procedure", spec.Procedure, "panic", p, "stack", string(debug.Stack()))
			return connect.NewError(connect.CodeInternal, errors.New("internal error"))
		}),
	)
}
