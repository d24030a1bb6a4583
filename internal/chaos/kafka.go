package chaos

import (
	"maps"
	"slices"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// kafkaSession is a session as an event's records, replayed in seq order,
// say it went.
type kafkaSession struct {
	status   waitroomv1.SessionStatus
	ticket   uint64
	joined   int
	admitted int
}

// checkKafka de-duplicates the records by id, checks that each event's carry
// seq 1..n (n the store's last), and replays them in order.
func (c *checker) checkKafka() {
	byEvent := map[string]map[uint64]Record{}
	for _, rec := range c.in.Records {
		c.r.Records++
		ev := rec.Event.GetEventId()
		if byEvent[ev] == nil {
			byEvent[ev] = map[uint64]Record{}
		}
		seq := rec.Event.GetSeq()
		prev, seen := byEvent[ev][seq]
		switch {
		case !seen:
			byEvent[ev][seq] = rec
		case prev.Value == rec.Value && prev.Topic == rec.Topic:
			c.r.Redelivered++
		default:
			c.r.anomaly(&c.r.SeqConflicts, "%s: two different records (%s and %s)", rec.ID, prev.Topic, rec.Topic)
		}
	}
	events := slices.Collect(maps.Keys(byEvent))
	for ev := range c.in.StoreSeq {
		if byEvent[ev] == nil {
			events = append(events, ev)
		}
	}
	slices.Sort(events)
	for _, ev := range events {
		c.checkSeqs(ev, byEvent[ev])
		c.replay(ev, byEvent[ev])
	}
}

func (c *checker) checkSeqs(event string, recs map[uint64]Record) {
	n, ok := c.in.StoreSeq[event]
	top := uint64(0)
	if len(recs) > 0 {
		top = slices.Max(slices.Collect(maps.Keys(recs)))
	}
	if !ok {
		n = top
	}
	if top > n {
		c.r.anomaly(&c.r.SeqGaps, "event %s: records up to seq %d, the store's last is %d", event, top, n)
	}
	missing, firstMissing := 0, uint64(0)
	for seq := uint64(1); seq <= n; seq++ {
		if _, ok := recs[seq]; !ok {
			if missing == 0 {
				firstMissing = seq
			}
			missing++
		}
	}
	if missing > 0 {
		c.r.SeqGaps += missing - 1
		c.r.anomaly(&c.r.SeqGaps, "event %s: %d of seq 1..%d have no record (the first is %d)", event, missing, n, firstMissing)
	}
}

// replay follows an event's records in seq order: every transition must be
// legal, admissions go in ticket order, nobody is admitted twice and the
// sessions in checkout never exceed the capacity.
func (c *checker) replay(event string, recs map[uint64]Record) {
	capacity := c.in.Capacity[event]
	waiting := map[string]uint64{} // queued session → ticket
	inCheckout := map[string]bool{}
	for _, seq := range slices.Sorted(maps.Keys(recs)) {
		rec := recs[seq]
		if rec.Event.GetType() == "queue.admitted" {
			c.checkTurn(rec, waiting)
		}
		for _, rs := range rec.Event.GetSessions() {
			c.transition(rec, rs, waiting, inCheckout)
		}
		if capacity > 0 {
			c.peak(int32(len(inCheckout)), capacity)
			if int32(len(inCheckout)) > capacity {
				c.r.anomaly(&c.r.CapacityExceeded, "%s: %d sessions in checkout with capacity %d", rec.ID, len(inCheckout), capacity)
			}
		}
	}
}

// checkTurn checks that an admission took the sessions at the head: the
// lowest tickets waiting.
func (c *checker) checkTurn(rec Record, waiting map[string]uint64) {
	var admitted []uint64
	for _, rs := range rec.Event.GetSessions() {
		if _, ok := waiting[rs.GetSessionId()]; ok {
			admitted = append(admitted, rs.GetTicket())
		}
	}
	if len(admitted) == 0 {
		return
	}
	highest := slices.Max(admitted)
	for id, ticket := range waiting {
		if ticket < highest && !slices.Contains(admitted, ticket) {
			c.r.anomaly(&c.r.OutOfOrder, "%s admitted ticket %d while %s (ticket %d) waited ahead", rec.ID, highest, id, ticket)
			return
		}
	}
}

// transition applies one session's change from a record.
func (c *checker) transition(rec Record, rs *waitroomv1.QueueEventSession, waiting map[string]uint64, inCheckout map[string]bool) {
	s := c.session(rs.GetSessionId(), rec.Event.GetEventId())
	if s.kafka == nil {
		s.kafka = &kafkaSession{}
	}
	k := s.kafka
	from, to := k.status, rs.GetStatus()
	illegal := func() {
		c.r.anomaly(&c.r.Unexpected, "%s (%s): %s goes from %s to %s", rec.ID, rec.Topic, s.id, statusName(from), statusName(to))
	}
	switch rec.Topic {
	case "queue.joined":
		k.joined++
		if k.joined > 1 {
			c.r.anomaly(&c.r.Duplicated, "%s: session %s joined again", rec.ID, s.id)
			return
		}
		k.status, k.ticket = to, rs.GetTicket()
		waiting[s.id] = k.ticket
		c.kafkaUser(s, rs.GetUserId())
		if to != queued {
			illegal()
		}
		return
	case "queue.admitted":
		if from == ready || k.admitted > 0 {
			c.r.anomaly(&c.r.AdmittedTwice, "%s: %s admitted again", rec.ID, s.id)
		} else if from != queued || to != ready {
			illegal()
		}
		k.admitted++
		inCheckout[s.id] = true
	case "queue.left":
		if from != queued || to != left {
			illegal()
		}
	case "queue.completed":
		if from != ready || to != completed {
			illegal()
		}
	case "queue.expired":
		if to != expired || (from != queued && from != ready) {
			illegal()
		} else if from == queued && !c.in.QueuedMayExpire {
			c.r.anomaly(&c.r.Unexpected, "%s: %s expired while queued, with the session TTL longer than the run", rec.ID, s.id)
		}
	default:
		c.r.anomaly(&c.r.Unexpected, "%s on unknown topic %s", rec.ID, rec.Topic)
	}
	k.status = to
	if to != queued {
		delete(waiting, s.id)
	}
	if to != ready {
		delete(inCheckout, s.id)
	}
}

// kafkaUser ties a session to the user its join record names.
func (c *checker) kafkaUser(s *session, userID string) {
	if s.user != "" && s.user != userID {
		c.r.anomaly(&c.r.Unexpected, "session %s was joined by %s, its record says %s", s.id, s.user, userID)
		return
	}
	s.user = userID
	if u := c.users[userID]; u != nil {
		u.sessions[s.id] = true
	}
}
