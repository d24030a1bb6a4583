package chaos

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// Input is a run's history and what it settled in.
type Input struct {
	// History is every operation, in any order.
	History []Op
	// Records are the Kafka records read back from the queue.* topics once
	// the run settled, in any order, copies included.
	Records []Record
	// StoreSeq is each event's last change number in the store once the run
	// settled: its records must carry 1..StoreSeq.
	StoreSeq map[string]uint64
	// Capacity is each event's max_concurrent, fixed for the run.
	Capacity map[string]int32
	// QueuedMayExpire says a session may expire while queued (the run's
	// session TTL is shorter than the run); otherwise such an expiry is
	// unexpected.
	QueuedMayExpire bool
}

// Short names for the session statuses.
const (
	queued    = waitroomv1.SessionStatus_SESSION_STATUS_QUEUED
	ready     = waitroomv1.SessionStatus_SESSION_STATUS_READY
	completed = waitroomv1.SessionStatus_SESSION_STATUS_COMPLETED
	expired   = waitroomv1.SessionStatus_SESSION_STATUS_EXPIRED
	left      = waitroomv1.SessionStatus_SESSION_STATUS_LEFT
)

func terminal(s waitroomv1.SessionStatus) bool { return s == completed || s == expired || s == left }

func statusName(s waitroomv1.SessionStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SESSION_STATUS_"))
}

// user is one client identity's joins: a run's clients join once each,
// retrying the same user id until a call is acknowledged, so a user ends
// up with at most one session.
type user struct {
	id, event     string
	attempts, oks int
	definiteFails int
	sessions      map[string]bool
}

// session gathers everything seen of one session.
type session struct {
	id, event, user string
	acked           bool // an acknowledged join returned it
	leaves          []Op
	completes       []Op // Complete and CompleteKafka
	tokens          map[string]bool
	sawReady        bool
	streams         map[int][]Op // StreamMsg by stream number
	ends            map[int]Op
	finalReads      []Op
	finalStreams    []Op
	kafka           *kafkaSession // nil: no record names it
}

// checker is one Check's state.
type checker struct {
	in       Input
	r        *Report
	users    map[string]*user
	sessions map[string]*session
}

// Check checks a run's history against the waiting room's guarantees.
func Check(in Input) *Report {
	c := &checker{
		in:       in,
		r:        &Report{Ops: map[string]int{}, Faults: map[string]int{}, Final: map[string]int{}},
		users:    map[string]*user{},
		sessions: map[string]*session{},
	}
	c.gather()
	c.checkKafka()
	c.checkUsers()
	for _, id := range slices.Sorted(maps.Keys(c.sessions)) {
		c.checkSession(c.sessions[id])
	}
	return c.r
}

func (c *checker) session(id, event string) *session {
	s := c.sessions[id]
	if s == nil {
		s = &session{id: id, event: event, tokens: map[string]bool{}, streams: map[int][]Op{}, ends: map[int]Op{}}
		c.sessions[id] = s
	}
	if s.event == "" {
		s.event = event
	}
	return s
}

// gather sorts the history into users and sessions, and checks the samples.
func (c *checker) gather() {
	var first, last time.Time
	for _, op := range c.in.History {
		if first.IsZero() || op.Invoke.Before(first) {
			first = op.Invoke
		}
		if op.Return.After(last) {
			last = op.Return
		}
		c.r.Ops[string(op.Kind)+" "+op.Outcome.String()]++
		switch op.Kind {
		case Fault:
			c.r.Faults[op.Value]++
		case Sample:
			c.sample(op)
		case Join:
			c.join(op)
		default:
			c.sessionOp(op)
		}
	}
	c.r.Duration = last.Sub(first)
}

func (c *checker) sample(op Op) {
	if op.Outcome != OK {
		return
	}
	c.r.Samples++
	c.peak(op.Processing, op.Capacity)
	if op.Processing > op.Capacity {
		c.r.anomaly(&c.r.CapacityExceeded, "event %s: %d in checkout with capacity %d, sampled at %s",
			op.Event, op.Processing, op.Capacity, op.Return.Format(time.StampMilli))
	}
}

func (c *checker) peak(processing, capacity int32) {
	if processing > c.r.PeakProcessing || (processing == c.r.PeakProcessing && capacity < c.r.Capacity) {
		c.r.PeakProcessing, c.r.Capacity = processing, capacity
	}
}

func (c *checker) join(op Op) {
	u := c.users[op.User]
	if u == nil {
		u = &user{id: op.User, event: op.Event, sessions: map[string]bool{}}
		c.users[op.User] = u
	}
	u.attempts++
	switch op.Outcome {
	case Fail:
		u.definiteFails++
	case OK:
		u.oks++
		u.sessions[op.Session] = true
		s := c.session(op.Session, op.Event)
		s.acked, s.user = true, op.User
		c.observe(s, op)
	}
}

func (c *checker) sessionOp(op Op) {
	if op.Session == "" {
		return
	}
	s := c.session(op.Session, op.Event)
	switch op.Kind {
	case Leave:
		s.leaves = append(s.leaves, op)
	case Complete, CompleteKafka:
		s.completes = append(s.completes, op)
	case StreamMsg:
		s.streams[op.Stream] = append(s.streams[op.Stream], op)
		c.r.StreamMsgs++
	case StreamEnd:
		s.ends[op.Stream] = op
	case FinalStatus:
		s.finalReads = append(s.finalReads, op)
	case FinalStream:
		s.finalStreams = append(s.finalStreams, op)
	}
	if op.Outcome == OK {
		c.observe(s, op)
	}
}

// observe notes a state a client saw.
func (c *checker) observe(s *session, op Op) {
	if op.Status == ready {
		s.sawReady = true
		if op.Token != "" {
			s.tokens[admissionOf(op.Token)] = true
		}
	}
}

// admissionOf names the admission a checkout token was issued for: its
// unique id (jti), or the whole token when it cannot be read. Two tokens
// with different ids for one session mean it was admitted twice.
func admissionOf(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return token
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return token
	}
	var claims struct {
		ID string `json:"jti"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.ID == "" {
		return token
	}
	return claims.ID
}

// checkUsers finds users with more than one session, and sorts the
// unacknowledged ones into recovered and absent.
func (c *checker) checkUsers() {
	for _, id := range slices.Sorted(maps.Keys(c.users)) {
		u := c.users[id]
		c.r.Attempted++
		if u.oks > 0 {
			c.r.Acknowledged++
		} else if len(u.sessions) > 0 {
			c.r.Recovered++
		} else {
			c.r.Absent++
		}
		if len(u.sessions) > 1 {
			c.r.anomaly(&c.r.Duplicated, "user %s has %d sessions: %v", id, len(u.sessions), slices.Sorted(maps.Keys(u.sessions)))
		}
	}
}
