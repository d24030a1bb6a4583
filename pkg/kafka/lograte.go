package kafka

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// A broker that is down, frozen or replaced makes every retry fail, thousands
// of times a second: LimitWarnings writes each warning at most once per
// warnEvery per message, and at most warnBurst warnings of any kind per
// warnEvery.
const (
	warnEvery = time.Second
	warnBurst = 3
)

// LimitWarnings returns l with its warnings and errors rate-limited: each
// message at most once a second, and at most three warnings a second in all,
// the next line written counting those held back ("suppressed"). Info and
// debug lines pass: they are not written per retry. Loggers derived from the
// result (With) share its limits, and limiting a limited logger again returns
// it unchanged, so the relay, the consumer and their clients can share one.
// Nil gives a logger that discards.
func LimitWarnings(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	if _, ok := l.Handler().(*warnLimiter); ok {
		return l
	}
	return slog.New(&warnLimiter{next: l.Handler(), st: &limitState{seen: map[string]*msgState{}}, now: time.Now})
}

type warnLimiter struct {
	next slog.Handler
	st   *limitState // shared by the handlers WithAttrs and WithGroup derive
	now  func() time.Time
}

type limitState struct {
	mu      sync.Mutex
	seen    map[string]*msgState // by message
	window  time.Time            // start of the current burst window
	written int                  // warnings written in the window
}

type msgState struct {
	last       time.Time
	suppressed uint64
}

func (h *warnLimiter) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *warnLimiter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	now := h.now()
	st := h.st
	st.mu.Lock()
	m := st.seen[r.Message]
	if m == nil {
		if len(st.seen) >= 1024 {
			// Messages are constant strings; this only bounds memory if
			// someone ever formats values into one.
			clear(st.seen)
		}
		m = &msgState{}
		st.seen[r.Message] = m
	}
	if now.Sub(st.window) >= warnEvery {
		st.window, st.written = now, 0
	}
	if !m.last.IsZero() && now.Sub(m.last) < warnEvery || st.written >= warnBurst {
		m.suppressed++
		st.mu.Unlock()
		return nil
	}
	m.last = now
	st.written++
	suppressed := m.suppressed
	m.suppressed = 0
	st.mu.Unlock()
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Uint64("suppressed", suppressed))
	}
	return h.next.Handle(ctx, r)
}

func (h *warnLimiter) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnLimiter{next: h.next.WithAttrs(as), st: h.st, now: h.now}
}

func (h *warnLimiter) WithGroup(name string) slog.Handler {
	return &warnLimiter{next: h.next.WithGroup(name), st: h.st, now: h.now}
}
