package queue

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config.
const (
	DefaultSessionTTL      = 2 * time.Hour
	DefaultCheckoutWindow  = 10 * time.Minute
	DefaultMaxConcurrent   = 100
	DefaultCheckoutURL     = "/checkout"
	DefaultProcessInterval = time.Second
	DefaultAdmitBatch      = 1000
	// DefaultEventIdleTTL is how long an event a join registered stays
	// known once it has nothing left: no live session, no outbox entry.
	DefaultEventIdleTTL = time.Hour
	// MinProcessInterval is the shortest ProcessInterval: a typo (1ns) must
	// not spin a core on every event. Shorter values are raised to it.
	MinProcessInterval = 10 * time.Millisecond
)

// UnknownEvents says what a join to an event id that was never created does.
type UnknownEvents uint8

const (
	// RegisterUnknownEvents registers the event with the defaults (the zero value).
	RegisterUnknownEvents UnknownEvents = iota
	// RefuseUnknownEvents fails the join with ErrEventNotFound: only events
	// created with PutEvent take joins, so random event ids cannot grow the
	// set of events the processor visits every tick.
	RefuseUnknownEvents
)

// Config is the service's behaviour. The zero value is the defaults.
type Config struct {
	// SessionTTL is how long a session may wait in the queue.
	SessionTTL time.Duration
	// CheckoutWindow is an admitted session's time to complete checkout, for
	// events that do not set their own.
	CheckoutWindow time.Duration
	// DefaultMaxConcurrent is the checkout capacity of events that do not set
	// their own.
	DefaultMaxConcurrent int64
	// CheckoutURL is where admitted visitors go, for events that do not set
	// their own.
	CheckoutURL string
	// ProcessInterval is how often the processor admits and expires.
	ProcessInterval time.Duration
	// AdmitBatch bounds the sessions one store call admits or expires.
	AdmitBatch int
	// UnknownEvents says whether a join may register an event.
	UnknownEvents UnknownEvents
	// EventIdleTTL is how long an event a join registered is kept once it
	// is idle (Store.ForgetIdle); events written by PutEvent are kept.
	EventIdleTTL time.Duration
	// PresenceGrace is how long a stream or a visitor's call keeps a session
	// present (DefaultPresenceGrace); negative turns presence-aware
	// admission off: the head is admitted whether present or not.
	PresenceGrace time.Duration
	// AbsentTTL is how long a held session keeps its place (DefaultAbsentTTL).
	AbsentTTL time.Duration
	// Changed, when set, is called after every change this service made
	// (the Kafka relay uses it to wake up). It must not block.
	Changed func(eventID string)
	// Observer, when set, is told what the service did (observer.go).
	Observer Observer
	// Replica names this process in its reports of open streams
	// (RunStreamReport); a random id when empty.
	Replica string
	// Logger receives the processor's and the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.CheckoutWindow <= 0 {
		c.CheckoutWindow = DefaultCheckoutWindow
	}
	if c.DefaultMaxConcurrent <= 0 {
		c.DefaultMaxConcurrent = DefaultMaxConcurrent
	}
	if c.CheckoutURL == "" {
		c.CheckoutURL = DefaultCheckoutURL
	}
	if c.ProcessInterval <= 0 {
		c.ProcessInterval = DefaultProcessInterval
	}
	c.ProcessInterval = max(c.ProcessInterval, MinProcessInterval)
	if c.AdmitBatch <= 0 {
		c.AdmitBatch = DefaultAdmitBatch
	}
	if c.EventIdleTTL <= 0 {
		c.EventIdleTTL = DefaultEventIdleTTL
	}
	c = c.presenceDefaults()
	if c.Replica == "" {
		c.Replica = rand.Text()[:16]
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Streams is the live fan-out that position streams are opened on: the
// fanout package implements it over the store's change feed.
type Streams interface {
	// Watch opens a watch on a session; its first state is the current one.
	Watch(ctx context.Context, sessionID string) (Watch, error)
	// EstimatedWait is the estimated wait at position in an event's queue,
	// from the admissions this process has seen; 0 when unknown.
	EstimatedWait(eventID string, position int64) time.Duration
	// OpenStreams is how many watches are open.
	OpenStreams() int64
	// OpenStreamsByEvent is how many watches are open per event, for the
	// events that have any.
	OpenStreamsByEvent() map[string]int64
	// Close ends every open watch with ErrShuttingDown.
	Close()
}

// Watch follows one session. Next returns its next state, with the event's
// checkout URL when Ready (empty: the service's default); io.EOF follows a
// state that ends the stream; ErrShuttingDown ends it when the process stops.
// Wait returns once Next has something to return, or with ctx's error.
type Watch interface {
	Wait(ctx context.Context) error
	Next(ctx context.Context) (View, error)
	Close()
}

// Service is the waiting room's use cases over a Store.
type Service struct {
	store   Store
	tokens  TokenIssuer
	streams Streams
	cfg     Config
	log     *slog.Logger
	// figuresAt is when the processor last read the live events' counts
	// for the Observer (Unix nanoseconds).
	figuresAt atomic.Int64
	// closed is closed by Close: figure watches end with ErrShuttingDown.
	closed    chan struct{}
	closeOnce sync.Once
}

// NewService returns a service over store that issues checkout tokens with
// tokens and opens position streams on streams; Close closes streams.
func NewService(store Store, tokens TokenIssuer, streams Streams, cfg Config) *Service {
	cfg = cfg.withDefaults()
	return &Service{store: store, tokens: tokens, streams: streams, cfg: cfg, log: cfg.Logger, closed: make(chan struct{})}
}

// OpenStreams is how many position streams are open on this process.
func (s *Service) OpenStreams() int64 { return s.streams.OpenStreams() }

// Close ends every open stream, and every figure watch, with ErrShuttingDown.
func (s *Service) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.streams.Close()
}

func (s *Service) now() time.Time { return s.cfg.Now() }

// defaultEvent is the event an unknown event id is registered as.
func (s *Service) defaultEvent(id string) Event {
	return Event{ID: id, State: EventActive, MaxConcurrent: s.cfg.DefaultMaxConcurrent, CheckoutWindow: s.cfg.CheckoutWindow}
}

// Join puts a user in an event's queue, or returns their live session there.
func (s *Service) Join(ctx context.Context, userID, eventID string) (View, bool, error) {
	return s.JoinLane(ctx, userID, eventID, "")
}

// JoinLane is Join into a priority lane (lane.go): lane must come from a
// trusted source (a join token's lane claim or a service credential); ""
// is the event's default lane.
func (s *Service) JoinLane(ctx context.Context, userID, eventID, lane string) (View, bool, error) {
	if err := ValidateUserID(userID); err != nil {
		return View{}, false, err
	}
	if err := ValidateEventID(eventID); err != nil {
		return View{}, false, err
	}
	if s.cfg.UnknownEvents == RefuseUnknownEvents {
		// Events are never deleted, so checking first leaves no window in
		// which the join could register one.
		if _, _, err := s.store.Event(ctx, eventID); err != nil {
			return View{}, false, err
		}
	}
	sess, pl, created, err := s.store.Join(ctx, JoinParams{
		SessionID: NewSessionID(eventID),
		UserID:    userID,
		EventID:   eventID,
		Now:       s.now(),
		TTL:       s.cfg.SessionTTL,
		NewEvent:  s.defaultEvent(eventID),
		Lane:      lane,
	})
	if err != nil {
		return View{}, false, err
	}
	if created {
		s.published(eventID, ChangeJoined, 1)
	} else {
		s.markPresent(ctx, sess)
	}
	v, err := s.view(ctx, sess, pl)
	return v, created, err
}

// Status returns a session's current state.
func (s *Service) Status(ctx context.Context, sessionID string) (View, error) {
	if err := ValidateSessionID(sessionID); err != nil {
		return View{}, err
	}
	sess, pl, err := s.store.Session(ctx, sessionID)
	if err != nil {
		return View{}, err
	}
	if sess.Status == StatusExpired {
		return View{}, ErrSessionExpired
	}
	s.markPresent(ctx, sess)
	return s.view(ctx, sess, pl)
}

// Leave takes a queued session out of its queue.
func (s *Service) Leave(ctx context.Context, sessionID string) error {
	if err := ValidateSessionID(sessionID); err != nil {
		return err
	}
	if _, err := s.store.Leave(ctx, sessionID, s.now()); err != nil {
		return expiredOr(err)
	}
	s.published(EventOfSession(sessionID), ChangeLeft, 1)
	return nil
}

// CompleteCheckout ends an admitted session's checkout and frees its slot.
func (s *Service) CompleteCheckout(ctx context.Context, sessionID string) error {
	if err := ValidateSessionID(sessionID); err != nil {
		return err
	}
	if _, err := s.store.Complete(ctx, sessionID, s.now()); err != nil {
		return expiredOr(err)
	}
	s.published(EventOfSession(sessionID), ChangeCompleted, 1)
	return nil
}

// CompleteCheckoutToken is CompleteCheckout for the session a checkout token
// was issued to.
func (s *Service) CompleteCheckoutToken(ctx context.Context, token string) error {
	id, err := s.SessionOfToken(token)
	if err != nil {
		return err
	}
	return s.CompleteCheckout(ctx, id)
}

// SessionOfToken returns the session a checkout token was issued to. An
// expired token still names its session.
func (s *Service) SessionOfToken(token string) (string, error) {
	if token == "" {
		return "", &InvalidArgumentError{Field: "checkout_token", Reason: "must not be empty"}
	}
	return s.tokens.SessionID(token)
}

// expiredOr turns "not queued/admitted because expired" into ErrSessionExpired.
func expiredOr(err error) error {
	if se := (*StatusError)(nil); errors.As(err, &se) && se.Status == StatusExpired {
		return ErrSessionExpired
	}
	return err
}

// published follows a change of n sessions this service made.
func (s *Service) published(eventID string, k ChangeKind, n int) {
	s.log.Debug("Published position update", "event_id", eventID, "update_type", k.String())
	if s.cfg.Observer != nil {
		s.cfg.Observer.Counted(eventID, k, n)
	}
	if s.cfg.Changed != nil {
		s.cfg.Changed(eventID)
	}
}

// view completes a session's state with its estimated wait, and with its
// checkout token and URL when admitted.
func (s *Service) view(ctx context.Context, sess Session, pl Place) (View, error) {
	v := View{
		Session:     sess,
		Position:    pl.Position,
		QueueLength: pl.QueueLength,
		UpdatedAt:   s.now(),
	}
	if sess.Status == StatusQueued {
		v.EstimatedWait = s.streams.EstimatedWait(sess.EventID, pl.Position)
	}
	if pl.PreQueue {
		if err := s.fairStartView(ctx, &v, pl); err != nil {
			return View{}, err
		}
	}
	if sess.Status == StatusReady {
		e, _, err := s.store.Event(ctx, sess.EventID)
		if err != nil && !errors.Is(err, ErrEventNotFound) {
			return View{}, err
		}
		v.CheckoutURL = e.CheckoutURL
		return s.admitted(v)
	}
	return v, nil
}

// admitted adds the checkout token and URL to a Ready view.
func (s *Service) admitted(v View) (View, error) {
	if v.Session.Status != StatusReady {
		return v, nil
	}
	tok, err := s.tokens.Issue(v.Session)
	if err != nil {
		return View{}, fmt.Errorf("issue checkout token: %w", err)
	}
	v.CheckoutToken = tok
	if v.CheckoutURL == "" {
		v.CheckoutURL = s.cfg.CheckoutURL
	}
	return v, nil
}

// Stream follows one session's state for a position stream.
type Stream struct {
	w   Watch
	svc *Service
}

// Watch opens a stream on a session. Its first state is the current one.
func (s *Service) Watch(ctx context.Context, sessionID string) (*Stream, error) {
	if err := ValidateSessionID(sessionID); err != nil {
		return nil, err
	}
	if s.PresenceOn() {
		// Present from the moment the stream opens, not from the next
		// refresh: a held session's first message says held, and it is
		// admitted at the next pass.
		s.markPresent(ctx, Session{ID: sessionID, EventID: EventOfSession(sessionID), Status: StatusQueued})
	}
	w, err := s.streams.Watch(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	return &Stream{w: w, svc: s}, nil
}

// Wait returns once Next has a state or an end to return, or with ctx's error
// when ctx ends first. A stream idles here rather than in Next, whose frames
// hold whole Views: parked that deep, a stream's goroutine outgrows 8 KiB.
func (st *Stream) Wait(ctx context.Context) error { return st.w.Wait(ctx) }

// Next waits for the session's next state, with its checkout token when
// Ready; io.EOF follows a state that ends the stream.
func (st *Stream) Next(ctx context.Context) (View, error) {
	v, err := st.w.Next(ctx)
	if err != nil {
		return View{}, err
	}
	if v.Session.Status == StatusReady {
		if err := st.admitted(&v); err != nil {
			return View{}, err
		}
	}
	return v, nil
}

// admitted adds the checkout token and URL to a Ready view. Not inlined:
// its copies of the View would widen Next's frame, which every stream's
// stack holds while it sends.
//
//go:noinline
func (st *Stream) admitted(v *View) error {
	a, err := st.svc.admitted(*v)
	if err != nil {
		return err
	}
	*v = a
	return nil
}

// Close releases the stream.
func (st *Stream) Close() { st.w.Close() }

// Event returns an event's settings and counts.
func (s *Service) Event(ctx context.Context, id string) (Event, EventStats, error) {
	if err := ValidateEventID(id); err != nil {
		return Event{}, EventStats{}, err
	}
	return s.store.Event(ctx, id)
}

// Events returns every event.
func (s *Service) Events(ctx context.Context) ([]Event, error) { return s.store.Events(ctx) }

// Ping checks the store.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }
