package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// RelayStats is a snapshot of a Relay's progress.
type RelayStats struct {
	// Backlog is how many entries waited in the outboxes at the last count
	// (BacklogAt), this relay's and others' alike.
	Backlog   int64
	BacklogAt time.Time
	// Held is how many entries this relay had claimed and not yet acked, at
	// the last count.
	Held int
	// Relayed counts entries the broker acknowledged and the outbox dropped.
	Relayed uint64
	// Failures counts failed produce attempts and failed store calls.
	Failures uint64
	// LastError is the latest failure, and when it happened.
	LastError   string
	LastErrorAt time.Time
}

// Stats returns the relay's counters and the backlog at the last count.
func (r *Relay) Stats() RelayStats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return r.stats
}

// Backlog counts, now, the entries waiting in every event's outbox (only
// live events have any).
func (r *Relay) Backlog(ctx context.Context) (int64, error) {
	evs, err := r.store.LiveEvents(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range evs {
		l, err := r.store.OutboxLen(ctx, e.ID)
		if err != nil {
			return 0, err
		}
		n += l
	}
	return n, nil
}

func (r *Relay) countRelayed(n int) {
	r.statsMu.Lock()
	r.stats.Relayed += uint64(n)
	r.statsMu.Unlock()
}

func (r *Relay) fail(what string, err error) { r.failN(1, what, err) }

func (r *Relay) failN(n uint64, what string, err error) {
	msg := what + ": " + err.Error()
	r.statsMu.Lock()
	r.stats.Failures += n
	r.stats.LastError = msg
	r.stats.LastErrorAt = time.Now()
	first := !r.outage
	r.outage = true
	refusedNow := !r.refused && refused(err)
	r.refused = r.refused || refusedNow
	r.statsMu.Unlock()
	switch {
	case refusedNow:
		// Unlike an outage, this does not end by itself.
		r.log.Error("Kafka relay failing: the brokers refuse this client's credentials or permissions; "+
			"outbox entries are kept and retried", "error", msg)
	case first:
		r.log.Warn("Kafka relay failing; outbox entries are kept and retried", "error", msg)
	}
}

// refused says whether err is the brokers refusing the client: its SASL
// credentials or mechanism, or its ACLs.
func refused(err error) bool {
	for _, e := range []error{kerr.SaslAuthenticationFailed, kerr.UnsupportedSaslMechanism,
		kerr.IllegalSaslState, kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// maybeRecovered logs the end of an outage once nothing is failing or
// waiting for a retry.
func (r *Relay) maybeRecovered() {
	r.statsMu.Lock()
	outage := r.outage
	r.statsMu.Unlock()
	if !outage {
		return
	}
	for _, ev := range r.events {
		if ev.backoff != 0 || ev.failed || ev.inflight > 0 && time.Since(ev.sentAt) > r.cfg.StuckAfter {
			return
		}
	}
	r.statsMu.Lock()
	r.outage, r.refused = false, false
	failures := r.stats.Failures
	r.statsMu.Unlock()
	r.log.Info("Kafka relay recovered", "failures", failures)
}

// report counts the backlog and logs it while the relay is failing.
func (r *Relay) report(ctx context.Context) {
	held := 0
	for _, ev := range r.events {
		held += len(ev.held)
		if ev.inflight > 0 && time.Since(ev.sentAt) > r.cfg.StuckAfter {
			r.fail("produce", fmt.Errorf("no answer for %d records of %s after %v",
				ev.inflight, ev.id, time.Since(ev.sentAt).Round(time.Second)))
		}
	}
	var backlog int64
	var err error
	for _, id := range r.order {
		var n int64
		if n, err = r.store.OutboxLen(ctx, id); err != nil {
			break
		}
		backlog += n
	}
	r.statsMu.Lock()
	r.stats.Held = held
	if err == nil {
		r.stats.Backlog = backlog
		r.stats.BacklogAt = time.Now()
	}
	st := r.stats
	outage := r.outage
	newFailures := st.Failures - r.failuresLogged
	r.failuresLogged = st.Failures
	r.statsMu.Unlock()

	switch {
	case err != nil && ctx.Err() == nil:
		r.log.Warn("Kafka outbox backlog unknown", "error", err)
	case outage || (newFailures > 0 && backlog > 0):
		r.log.Warn("Kafka outbox backlog", "backlog", backlog, "held", held,
			"failures", st.Failures, "last_error", st.LastError)
	}
}
