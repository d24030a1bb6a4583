package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
)

// message is a change as published on Channel(event) and recorded in the
// outbox: the guide's update (event_id, update_type, affected_session_ids,
// timestamp) plus what a replica needs to update its view of the queue
// without reading Redis: the seq, the queue length, each affected session's
// ticket and new status, and the admitted sessions' checkout deadline.
//
//	{"event_id":"concert-2024","update_type":"user_joined",
//	 "affected_session_ids":["concert-2024~…"],"timestamp":"2026-03-01T12:00:00.000Z",
//	 "seq":7,"queue_length":3,
//	 "sessions":[{"id":"concert-2024~…","user_id":"u1","ticket":7,"status":"queued"}]}
//
// The scripts write it (lua/prelude.lua); Go only reads it.
type message struct {
	EventID          string           `json:"event_id"`
	UpdateType       string           `json:"update_type"`
	Affected         []string         `json:"affected_session_ids"`
	Timestamp        time.Time        `json:"timestamp"`
	Seq              uint64           `json:"seq"`
	QueueLength      int64            `json:"queue_length"`
	Sessions         []messageSession `json:"sessions"`
	CheckoutDeadline time.Time        `json:"checkout_deadline"`
	// Lanes and RR are set for an event with lanes (lanes.go).
	Lanes string `json:"lanes,omitempty"`
	RR    string `json:"rr,omitempty"`
}

type messageSession struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	Ticket uint64 `json:"ticket"`
	Status string `json:"status"`
	// Reason says why an expired session expired (queue.ExpiryReason).
	Reason string `json:"reason,omitempty"`
	Lane   string `json:"lane,omitempty"`
}

// decodeChange decodes a message, ignoring fields it does not know.
func decodeChange(data string) (queue.Change, error) {
	var m message
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		return queue.Change{}, err
	}
	kind, ok := queue.ParseChangeKind(m.UpdateType)
	if !ok {
		return queue.Change{}, fmt.Errorf("unknown update_type %q", m.UpdateType)
	}
	if m.EventID == "" || m.Seq == 0 {
		return queue.Change{}, fmt.Errorf("no event_id or seq")
	}
	c := queue.Change{
		EventID:          m.EventID,
		Seq:              m.Seq,
		Kind:             kind,
		QueueLength:      m.QueueLength,
		At:               m.Timestamp,
		CheckoutDeadline: m.CheckoutDeadline,
		Sessions:         make([]queue.ChangedSession, len(m.Sessions)),
		Lanes:            laneState(m.Lanes, m.RR),
	}
	for i, s := range m.Sessions {
		st, ok := parseStatus(s.Status)
		if !ok {
			return queue.Change{}, fmt.Errorf("session %s has unknown status %q", s.ID, s.Status)
		}
		c.Sessions[i] = queue.ChangedSession{ID: s.ID, UserID: s.UserID, Ticket: s.Ticket, Status: st,
			Reason: queue.ParseExpiryReason(s.Reason), Lane: s.Lane}
	}
	return c, nil
}

// Subscribe implements queue.Store with one SUBSCRIBE to the event's exact
// channel (never a pattern: every PSUBSCRIBE on a server taxes every PUBLISH).
// rueidis resubscribes by itself after a reconnect, and its subscription hook
// calls h.Subscribed each time the subscription is (re)established. If the
// subscription still ends (Redis down for long, cluster topology changes),
// Subscribe retries with backoff until ctx ends.
//
// In a Redis Cluster a PUBLISH is broadcast to every node. Sharded pub/sub
// (SPUBLISH/SSUBSCRIBE) would keep each message on its slot's shard, but its
// channel would have to carry the event's hash tag (queue:updates:{<event>})
// and it cannot be pattern-subscribed, so the guide's
// redis-cli PSUBSCRIBE 'queue:updates:*' would show nothing. The broadcast
// costs one bus message per node per change; at the change rates of one
// Redis Cluster's worth of events that is the cheaper price.
func (s *Store) Subscribe(ctx context.Context, eventID string, h queue.ChangeHandler) error {
	channel := Channel(eventID)
	// The hook runs on the connection's reader goroutine and messages on this
	// one: mu keeps h's calls one at a time, and in order.
	var mu sync.Mutex
	var confirmed atomic.Bool
	hctx := rueidis.WithOnSubscriptionHook(ctx, func(sub rueidis.PubSubSubscription) {
		if sub.Kind != "subscribe" || sub.Channel != channel {
			return
		}
		confirmed.Store(true)
		mu.Lock()
		h.Subscribed()
		mu.Unlock()
	})
	deliver := func(m rueidis.PubSubMessage) {
		c, err := decodeChange(m.Message)
		if err == nil && c.EventID != eventID {
			err = fmt.Errorf("change for event %q", c.EventID)
		}
		if err != nil {
			s.log.Warn("Dropping malformed queue update", "event_id", eventID, "error", err)
			return
		}
		mu.Lock()
		h.Change(c)
		mu.Unlock()
	}
	const minBackoff, maxBackoff = 50 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for {
		// Routed to the node that owns the event's slot, where its scripts
		// PUBLISH: there a change is delivered iff it ran after the SUBSCRIBE.
		// On any other node the cluster bus forwards messages late, so one
		// published before the subscription could still arrive after
		// Subscribed, out of step with the resynchronisation it triggers.
		sub := s.client.B().Subscribe().Channel(channel).Build().SetSlot(prefix(eventID))
		err := s.client.Receive(hctx, sub, deliver)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if confirmed.Swap(false) {
			backoff = minBackoff
		}
		s.log.Warn("Queue update subscription lost; resubscribing", "event_id", eventID, "error", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
