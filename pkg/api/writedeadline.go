package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
)

// DefaultStreamWriteTimeout is how long one position update may take to
// reach the client's connection. A reader that answers pings but never opens
// flow control would otherwise hold its stream, and the memory behind it,
// for good; an honest client on a bad mobile link takes seconds, not tens of
// them, and reconnects after a reset.
const DefaultStreamWriteTimeout = 30 * time.Second

type writeDeadlineKey struct{}

// withWriteDeadline gives each StreamQueuePosition request a writeDeadline in
// its context. Connect handlers do not see the ResponseWriter, so this
// middleware holds it for them. The clock starts with the request, which
// covers Connect's own reading and error replies; the handler stops it only
// while it waits for an update, and Connect's last write (the end of the
// stream, after the handler returns) runs under it too.
func withWriteDeadline(timeout time.Duration, l *StreamLimiter, next http.Handler) http.Handler {
	if timeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != waitroomv1connect.WaitroomServiceStreamQueuePositionProcedure {
			next.ServeHTTP(w, r)
			return
		}
		d := &writeDeadline{w: w, timeout: timeout, l: l}
		d.arm()
		defer d.end()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), writeDeadlineKey{}, d)))
	})
}

// writeDeadline ends a stream that has spent timeout on anything but waiting
// for its next update: in practice, a write the client's flow control holds.
//
// It keeps its own timer rather than calling SetWriteDeadline before each
// write: on HTTP/2 a future deadline is a message to the connection's serve
// loop, two per update (set, then clear) across every open stream, while
// resetting a timer costs the connection nothing. Only an expiry touches the
// stream: a deadline in the past resets an HTTP/2 stream at once (RST_STREAM),
// which fails the write blocked on flow control, and on HTTP/1.1 fails the
// connection's blocked write.
type writeDeadline struct {
	w       http.ResponseWriter
	timeout time.Duration
	l       *StreamLimiter
	t       *time.Timer // only the request's goroutine arms and stops it

	mu    sync.Mutex
	ended bool // the request is over: the ResponseWriter is no longer ours
}

// writeDeadlineFrom is the request's deadline, or nil (a no-op) without one.
func writeDeadlineFrom(ctx context.Context) *writeDeadline {
	d, _ := ctx.Value(writeDeadlineKey{}).(*writeDeadline)
	return d
}

// arm starts the clock.
func (d *writeDeadline) arm() {
	if d == nil {
		return
	}
	if d.t == nil {
		d.t = time.AfterFunc(d.timeout, d.expire)
		return
	}
	d.t.Reset(d.timeout)
}

// disarm stops the clock while the stream waits for an update.
func (d *writeDeadline) disarm() {
	if d != nil && d.t != nil {
		d.t.Stop()
	}
}

func (d *writeDeadline) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ended {
		return
	}
	d.l.writeTimeouts.Add(1)
	_ = http.NewResponseController(d.w).SetWriteDeadline(time.Unix(1, 0))
}

// end stops the clock for good before the ResponseWriter goes back to the
// server; an expiry already running finishes first.
func (d *writeDeadline) end() {
	d.mu.Lock()
	d.ended = true
	d.mu.Unlock()
	d.disarm()
}
