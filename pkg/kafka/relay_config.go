package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// RelayStore is what a Relay needs from the store: the live events (every
// event with outbox entries is one: queue.Store.LiveEvents) and their
// outboxes. A queue.Store built with an outbox satisfies it.
type RelayStore interface {
	LiveEvents(ctx context.Context) ([]queue.Event, error)
	queue.Outbox
}

// RelayConfig tunes a Relay. Zero fields take the defaults.
type RelayConfig struct {
	// TopicPrefix goes in front of every topic name (Config.TopicPrefix).
	TopicPrefix string
	// Claimant is the name this relay claims outbox entries under; it must
	// differ between live relays. Default: host name, process id and a random
	// suffix.
	Claimant string
	// Batch is how many entries of one event the relay holds at once
	// (default 256). It bounds the relay's memory during an outage: the rest
	// of the backlog stays in the store.
	Batch int
	// MinIdle is how long a claim holds before another relay may take the
	// event's outbox over (default 90s). The relay renews its claims at every
	// step, but none runs while a batch is in flight (up to the client's
	// delivery timeout, 30s by default) or backing off (up to BackoffMax), so
	// MinIdle must exceed both together, or two relays produce the same
	// entries out of order.
	MinIdle time.Duration
	// MaxInflight bounds the records handed to the client and not yet
	// answered, across events (default 4096). Keep it below the client's
	// MaxBufferedRecords (franz-go's default: 10,000): past that a record
	// fails at once while later ones of its batch succeed, out of order.
	MaxInflight int
	// PollMin and PollMax bound the polling of an event whose outbox is empty:
	// the interval doubles from PollMin to PollMax while it stays empty
	// (defaults 50ms and 30s), so an idle system costs one claim per event
	// per PollMax. WakeEvent, called for every change this process makes,
	// polls that event at once; the polling only catches entries no wake
	// announced (another replica's, whose relay died), so it can be slow,
	// and the events that are over cost little.
	PollMin, PollMax time.Duration
	// BackoffMin and BackoffMax bound the wait before retrying after a failed
	// produce or store call (defaults 250ms and 10s).
	BackoffMin, BackoffMax time.Duration
	// EventsEvery is how often the list of live events is re-read (default
	// 5s); the relay polls only those, and the ones WakeEvent names.
	EventsEvery time.Duration
	// ReportEvery is how often the backlog is counted for Stats and, when
	// produces are failing, logged (default 30s).
	ReportEvery time.Duration
	// StuckAfter is how long a batch may go unanswered before the relay
	// reports an outage (default 1m). The client's delivery timeout normally
	// answers much sooner; this catches a client that does not.
	StuckAfter time.Duration
	// ShutdownGrace is how long Run waits, once its context ends, for records
	// already sent to be answered so their entries can be acked (default 5s).
	ShutdownGrace time.Duration
	// Relayed, when set, is called with the commit time (Change.At) of
	// each entry the broker acknowledged, when the relay removes it from
	// the outbox (for the relay's lag). It must not block.
	Relayed func(changedAt time.Time)
	// Logger receives the relay's reports, its warnings rate-limited
	// (LimitWarnings); nil discards them.
	Logger *slog.Logger
}

func (c RelayConfig) withDefaults() RelayConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Claimant == "" {
		c.Claimant = processClaimant()
	}
	if c.Batch <= 0 {
		c.Batch = 256
	}
	def(&c.MinIdle, 90*time.Second)
	if c.MaxInflight <= 0 {
		c.MaxInflight = 4096
	}
	def(&c.PollMin, 50*time.Millisecond)
	def(&c.PollMax, 30*time.Second)
	def(&c.BackoffMin, 250*time.Millisecond)
	def(&c.BackoffMax, 10*time.Second)
	def(&c.EventsEvery, 5*time.Second)
	def(&c.ReportEvery, 30*time.Second)
	def(&c.StuckAfter, time.Minute)
	def(&c.ShutdownGrace, 5*time.Second)
	c.PollMax = max(c.PollMax, c.PollMin)
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)
	c.Logger = LimitWarnings(c.Logger)
	return c
}

// processClaimant names this process's relay: unique among live relays even
// when several run on one host.
func processClaimant() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "waitroom"
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
