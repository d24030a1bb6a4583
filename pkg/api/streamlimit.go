package api

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
)

// Defaults for StreamLimitConfig. A visitor has a tab or two open on their
// session; thousands of phones can share one address; and the node ceiling
// keeps a flood of streams from running the process out of memory (about
// 20 KiB each).
const (
	DefaultStreamsPerSession = 4
	DefaultStreamsPerIP      = 20_000
	DefaultMaxStreams        = 200_000
)

// StreamLimitConfig caps open position streams. The zero value is the
// defaults; a negative field turns that cap off.
type StreamLimitConfig struct {
	// PerSession caps the streams open on one session (DefaultStreamsPerSession).
	PerSession int
	// PerIP caps the streams open from one client address (DefaultStreamsPerIP);
	// the address is found as for the join limit.
	PerIP int
	// Max caps the streams open on this replica (DefaultMaxStreams).
	Max int
	// WriteTimeout ends a stream whose update has not been written within it
	// (DefaultStreamWriteTimeout); negative: never.
	WriteTimeout time.Duration
}

// StreamLimiter enforces StreamLimitConfig and counts its refusals. It is
// safe for concurrent use.
type StreamLimiter struct {
	cfg     StreamLimitConfig
	proxies Proxies

	open                      atomic.Int64
	refusedSession, refusedIP atomic.Int64
	refusedMax                atomic.Int64
	writeTimeouts             atomic.Int64
	mu                        sync.Mutex
	bySession                 map[string]int
	byAddr                    map[netip.Addr]int
}

// NewStreamLimiter returns the caps of cfg, finding client addresses through
// proxies.
func NewStreamLimiter(cfg StreamLimitConfig, proxies Proxies) *StreamLimiter {
	if cfg.PerSession == 0 {
		cfg.PerSession = DefaultStreamsPerSession
	}
	if cfg.PerIP == 0 {
		cfg.PerIP = DefaultStreamsPerIP
	}
	if cfg.Max == 0 {
		cfg.Max = DefaultMaxStreams
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultStreamWriteTimeout
	}
	return &StreamLimiter{cfg: cfg, proxies: proxies, bySession: map[string]int{}, byAddr: map[netip.Addr]int{}}
}

// StreamRefusals counts the streams each cap refused, and those ended by the
// write timeout.
type StreamRefusals struct{ PerSession, PerIP, Max, WriteTimeouts int64 }

// Refused is how many streams each cap has refused or ended.
func (l *StreamLimiter) Refused() StreamRefusals {
	return StreamRefusals{l.refusedSession.Load(), l.refusedIP.Load(), l.refusedMax.Load(), l.writeTimeouts.Load()}
}

// Stream refusals. A client that reconnects with backoff gets in once others
// close.
var (
	errStreamsPerSession = errors.New("too many streams open on this session; close one first")
	errStreamsPerIP      = errors.New("too many streams open from this address; retry later")
	errStreamsMax        = errors.New("this server has as many streams open as it can hold; retry later")
)

// acquire takes a place for a stream of session from addr; release gives it back.
func (l *StreamLimiter) acquire(session string, addr netip.Addr, hasAddr bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.cfg.Max > 0 && l.open.Load() >= int64(l.cfg.Max):
		l.refusedMax.Add(1)
		return retryLater(errStreamsMax, retryStreamAfter)
	case l.cfg.PerSession > 0 && l.bySession[session] >= l.cfg.PerSession:
		l.refusedSession.Add(1)
		return connect.NewError(connect.CodeResourceExhausted, errStreamsPerSession)
	case hasAddr && l.cfg.PerIP > 0 && l.byAddr[addr] >= l.cfg.PerIP:
		l.refusedIP.Add(1)
		return retryLater(errStreamsPerIP, retryStreamAfter)
	}
	l.open.Add(1)
	l.bySession[session]++
	if hasAddr {
		l.byAddr[addr]++
	}
	return nil
}

func (l *StreamLimiter) release(session string, addr netip.Addr, hasAddr bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open.Add(-1)
	if l.bySession[session]--; l.bySession[session] <= 0 {
		delete(l.bySession, session)
	}
	if hasAddr {
		if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
			delete(l.byAddr, addr)
		}
	}
}

// retryStreamAfter is the retry hint of a stream refused for lack of room.
const retryStreamAfter = 5 * time.Second

var _ connect.Interceptor = (*StreamLimiter)(nil)

// WrapStreamingHandler counts StreamQueuePosition streams once their request
// names the session, and refuses those over a cap before any store work.
func (l *StreamLimiter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if conn.Spec().Procedure != waitroomv1connect.WaitroomServiceStreamQueuePositionProcedure {
			return next(ctx, conn)
		}
		lc := &limitedConn{StreamingHandlerConn: conn, l: l}
		defer lc.release()
		return next(ctx, lc)
	}
}

// WrapUnary leaves unary calls alone.
func (*StreamLimiter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

// WrapStreamingClient leaves clients alone.
func (*StreamLimiter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// limitedConn takes the stream's place when its request arrives.
type limitedConn struct {
	connect.StreamingHandlerConn
	l       *StreamLimiter
	held    bool
	session string
	addr    netip.Addr
	hasAddr bool
}

func (c *limitedConn) Receive(m any) error {
	if err := c.StreamingHandlerConn.Receive(m); err != nil || c.held {
		return err
	}
	req, ok := m.(*waitroomv1.StreamQueuePositionRequest)
	if !ok {
		return nil
	}
	addr, hasAddr := c.l.proxies.Client(c.Peer().Addr, c.RequestHeader())
	if err := c.l.acquire(req.GetSessionId(), addr, hasAddr); err != nil {
		return err
	}
	c.held, c.session, c.addr, c.hasAddr = true, req.GetSessionId(), addr, hasAddr
	return nil
}

func (c *limitedConn) release() {
	if c.held {
		c.l.release(c.session, c.addr, c.hasAddr)
	}
}
