package chaos

import (
	"maps"
	"slices"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// checkSession checks one session: it exists if acknowledged, settled in
// exactly one final state, which its history explains, and its streams
// ended on it.
func (c *checker) checkSession(s *session) {
	c.checkOrigin(s)
	final, ok := c.finalState(s)
	if !ok {
		return
	}
	c.r.Sessions++
	c.r.Final[statusName(final)]++
	c.checkCause(s, final)
	c.checkStreams(s, final)
	if len(s.tokens) > 1 {
		c.r.anomaly(&c.r.AdmittedTwice, "%s was READY with %d different checkout tokens", s.id, len(s.tokens))
	}
}

// checkOrigin checks that someone asked for the session: a user who called
// JoinQueue for its event and was not certainly refused every time.
func (c *checker) checkOrigin(s *session) {
	u := c.users[s.user]
	switch {
	case s.user == "" && s.kafka == nil:
		c.r.anomaly(&c.r.Unexpected, "session %s was seen but never joined (no join returned it, no record names it)", s.id)
	case s.user == "":
		c.r.anomaly(&c.r.Unexpected, "session %s has records but no join record", s.id)
	case u == nil:
		c.r.anomaly(&c.r.Unexpected, "session %s belongs to %s, who never called JoinQueue", s.id, s.user)
	case u.event != s.event:
		c.r.anomaly(&c.r.Unexpected, "session %s is in event %s; %s joined %s", s.id, s.event, s.user, u.event)
	case u.definiteFails == u.attempts:
		c.r.anomaly(&c.r.Unexpected, "session %s exists though every join of %s was refused", s.id, s.user)
	}
}

// finalState is the one state the session settled in, as the final reads
// (through every replica), the replayed records and a stream opened at the
// end all say; ok is false when there is none to check further.
func (c *checker) finalState(s *session) (waitroomv1.SessionStatus, bool) {
	states := map[waitroomv1.SessionStatus]bool{}
	for _, op := range s.finalReads {
		if op.Outcome == OK {
			states[op.Status] = true
		}
	}
	if len(states) == 0 {
		what := "never acknowledged, but its records say it joined"
		if s.acked {
			what = "acknowledged"
		}
		c.r.anomaly(&c.r.Lost, "session %s (%s, user %s) is gone: %s", s.id, what, s.user, lastErr(s.finalReads))
		return 0, false
	}
	if len(states) > 1 {
		c.r.anomaly(&c.r.Conflicting, "%s reads as %v on different replicas", s.id, names(states))
		return 0, false
	}
	final := slices.Collect(maps.Keys(states))[0]
	if !terminal(final) {
		c.r.anomaly(&c.r.NotFinal, "%s is still %s once the run settled", s.id, statusName(final))
		return 0, false
	}
	switch {
	case s.kafka == nil:
		c.r.anomaly(&c.r.Conflicting, "%s is %s but no record names it", s.id, statusName(final))
	case s.kafka.status != final:
		c.r.anomaly(&c.r.Conflicting, "%s is %s but its records end at %s", s.id, statusName(final), statusName(s.kafka.status))
	}
	return final, true
}

// checkCause checks that the history explains the final state, and that
// every acknowledged leave and completion took effect.
func (c *checker) checkCause(s *session, final waitroomv1.SessionStatus) {
	admitted := s.sawReady || (s.kafka != nil && s.kafka.admitted > 0)
	for _, op := range s.leaves {
		if op.Outcome == OK && final != left {
			c.r.anomaly(&c.r.Lost, "%s: LeaveQueue was acknowledged but the session is %s", s.id, statusName(final))
		}
	}
	for _, op := range s.completes {
		if op.Kind == Complete && op.Outcome == OK && final != completed {
			c.r.anomaly(&c.r.Lost, "%s: CompleteCheckout was acknowledged but the session is %s", s.id, statusName(final))
		}
	}
	switch final {
	case left:
		if !mayHaveHappened(s.leaves) {
			c.r.anomaly(&c.r.Unexpected, "%s left, but no LeaveQueue could have done it", s.id)
		}
		if admitted {
			c.r.anomaly(&c.r.Unexpected, "%s left after it was admitted", s.id)
		}
	case completed:
		if !mayHaveHappened(s.completes) {
			c.r.anomaly(&c.r.Unexpected, "%s completed, but no completion could have done it", s.id)
		}
	case expired:
		if !admitted && !c.in.QueuedMayExpire {
			c.r.anomaly(&c.r.Unexpected, "%s expired without being admitted, with the session TTL longer than the run", s.id)
		}
	}
}

// mayHaveHappened reports whether any of the calls may have taken effect: a
// checkout.completed record counts whatever its outcome, since the broker
// may hold it.
func mayHaveHappened(ops []Op) bool {
	for _, op := range ops {
		if op.Outcome != Fail || op.Kind == CompleteKafka {
			return true
		}
	}
	return false
}

func lastErr(ops []Op) string {
	if len(ops) == 0 {
		return "never read"
	}
	op := ops[len(ops)-1]
	if op.Err == "" {
		return op.Outcome.String()
	}
	return op.Err
}

func names(states map[waitroomv1.SessionStatus]bool) []string {
	var out []string
	for st := range states {
		out = append(out, statusName(st))
	}
	slices.Sort(out)
	return out
}
