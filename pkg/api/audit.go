package api

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// adminAudit logs one line per EventAdminService call, let through or
// refused: it wraps the bearer check (adminAuth), so a call with a wrong
// token is logged too. The line names the procedure, the event, the fields
// the call sets (an UpdateEvent's mask paths; the fields given otherwise),
// the result code and the caller's address; never a header, so never the
// token.
type adminAudit struct {
	log     *slog.Logger
	proxies Proxies
}

var _ connect.Interceptor = adminAudit{}

// auditMessage is the audit line's message.
const auditMessage = "Admin call"

func (a adminAudit) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		m, _ := req.Any().(proto.Message)
		a.line(ctx, req.Spec().Procedure, req.Peer().Addr, req.Header(), m, err, start)
		return resp, err
	}
}

func (a adminAudit) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		c := &auditConn{StreamingHandlerConn: conn}
		err := next(ctx, c)
		a.line(ctx, conn.Spec().Procedure, conn.Peer().Addr, conn.RequestHeader(), c.first, err, start)
		return err
	}
}

// WrapStreamingClient leaves clients alone.
func (adminAudit) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// auditConn keeps a stream's first request message for its audit line.
type auditConn struct {
	connect.StreamingHandlerConn
	first proto.Message
}

func (c *auditConn) Receive(m any) error {
	err := c.StreamingHandlerConn.Receive(m)
	if pm, ok := m.(proto.Message); ok && err == nil && c.first == nil {
		c.first = pm
	}
	return err
}

func (a adminAudit) line(ctx context.Context, procedure, peer string, h map[string][]string, m proto.Message, err error, start time.Time) {
	code := "ok"
	if err != nil {
		code = connect.CodeOf(err).String()
	}
	addr := peer
	if ip, ok := a.proxies.Client(peer, h); ok {
		addr = ip.String()
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, auditMessage,
		slog.String("procedure", procedure),
		slog.String("event_id", auditEventID(m)),
		slog.Any("fields", auditFields(m)),
		slog.String("code", code),
		slog.String("peer", addr),
		slog.Duration("took", time.Since(start)))
}

// auditEventID is the event a request names, cut to a loggable length.
func auditEventID(m proto.Message) string {
	var id string
	switch r := m.(type) {
	case interface{ GetEvent() *waitroomv1.Event }:
		id = r.GetEvent().GetEventId()
	case interface{ GetEventId() string }:
		id = r.GetEventId()
	}
	if len(id) > 128 {
		id = id[:128] + "…"
	}
	return id
}

// auditFields are the fields a request sets: an UpdateEvent's mask paths,
// the event's fields given to PutEvent, or the request's own otherwise
// (DeleteEvent's force, ListEvents' paging), sorted, without event_id.
func auditFields(m proto.Message) []string {
	if m == nil {
		return nil
	}
	if u, ok := m.(*waitroomv1.UpdateEventRequest); ok {
		paths := u.GetUpdateMask().GetPaths()
		return paths[:min(len(paths), 16)]
	}
	r := m.ProtoReflect()
	if e, ok := m.(interface{ GetEvent() *waitroomv1.Event }); ok && e.GetEvent() != nil {
		r = e.GetEvent().ProtoReflect()
	}
	out := []string{}
	r.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if fd.Name() != "event_id" {
			out = append(out, string(fd.Name()))
		}
		return true
	})
	slices.Sort(out)
	return out
}
