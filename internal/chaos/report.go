package chaos

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Report is what Check found: what the run did, and the anomalies, each of
// which must be zero.
type Report struct {
	// Duration is from the first call to the last answer.
	Duration time.Duration
	// Ops counts the operations by "kind outcome".
	Ops map[string]int
	// Faults counts the faults injected by what they were.
	Faults map[string]int

	// Joins, by user: Attempted made a join call, Acknowledged got an ok,
	// Recovered got no ok but their session exists, Absent got no ok and no
	// session exists (a failed or unknown join that did not happen).
	Attempted, Acknowledged, Recovered, Absent int
	// Sessions is how many sessions exist; Final counts them by the final
	// state they settled in.
	Sessions int
	Final    map[string]int

	// Records is how many Kafka records were read and Redelivered how many
	// of them repeated an id already read (allowed: delivery is at least
	// once).
	Records, Redelivered int
	// Samples is how many event counts were sampled during the run;
	// PeakProcessing and Capacity are the largest number of sessions in
	// checkout seen at once (in the samples or replaying the records) and
	// the capacity it is measured against.
	Samples                  int
	PeakProcessing, Capacity int32
	// Streams is how many position streams were opened, StreamMsgs how many
	// messages they carried.
	Streams, StreamMsgs int

	// The anomalies.
	Lost             int // an acknowledged join, leave or completion whose effect is gone
	NotFinal         int // a session not in a final state once the run settled
	Conflicting      int // a session in more than one final state (by replica, by Kafka, by stream)
	Duplicated       int // a user with two sessions, a session joined twice
	Unexpected       int // a session nobody asked for, or a state nothing explains
	AdmittedTwice    int // a session admitted more than once
	OutOfOrder       int // an admission that skipped someone ahead
	CapacityExceeded int // a moment with more sessions in checkout than the capacity
	StreamMismatch   int // a stream whose last message is not the final state, or that went backwards
	SeqGaps          int // change numbers missing from an event's Kafka records
	SeqConflicts     int // two different records under one id

	// Problems describes each anomaly (the first hundred).
	Problems []string
}

// maxProblems bounds Report.Problems.
const maxProblems = 100

// anomaly counts one anomaly in *n and describes it.
func (r *Report) anomaly(n *int, format string, args ...any) {
	*n++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Anomalies is the sum of the anomaly counts.
func (r *Report) Anomalies() int {
	return r.Lost + r.NotFinal + r.Conflicting + r.Duplicated + r.Unexpected + r.AdmittedTwice +
		r.OutOfOrder + r.CapacityExceeded + r.StreamMismatch + r.SeqGaps + r.SeqConflicts
}

// Failed reports whether any anomaly was found.
func (r *Report) Failed() bool { return r.Anomalies() > 0 }

// String is the report as a few lines of text.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "duration   %v, %d operations: %s\n", r.Duration.Round(time.Millisecond), sum(r.Ops), counts(r.Ops))
	fmt.Fprintf(&b, "faults     %d: %s\n", sum(r.Faults), counts(r.Faults))
	fmt.Fprintf(&b, "joins      %d attempted, %d acknowledged, %d recovered (unknown outcome, session exists), %d absent (unknown or failed, no session)\n",
		r.Attempted, r.Acknowledged, r.Recovered, r.Absent)
	fmt.Fprintf(&b, "sessions   %d, final: %s\n", r.Sessions, counts(r.Final))
	fmt.Fprintf(&b, "kafka      %d records, %d redelivered (same id, same value)\n", r.Records, r.Redelivered)
	fmt.Fprintf(&b, "capacity   %d samples, peak processing %d of %d\n", r.Samples, r.PeakProcessing, r.Capacity)
	fmt.Fprintf(&b, "streams    %d streams, %d messages\n", r.Streams, r.StreamMsgs)
	fmt.Fprintf(&b, "anomalies  lost %d, not final %d, conflicting %d, duplicated %d, unexpected %d, "+
		"admitted twice %d, out of order %d, capacity exceeded %d, stream mismatch %d, seq gaps %d, seq conflicts %d\n",
		r.Lost, r.NotFinal, r.Conflicting, r.Duplicated, r.Unexpected,
		r.AdmittedTwice, r.OutOfOrder, r.CapacityExceeded, r.StreamMismatch, r.SeqGaps, r.SeqConflicts)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	return b.String()
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// counts writes a map of counts as "a 1, b 2", by key.
func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
