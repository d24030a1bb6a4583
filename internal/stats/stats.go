// Package stats is the JSON document a waitroom server serves at
// /debug/stats on its DEBUG_ADDR, shared by the server that writes it and the
// load tool that reads it, so the tool does not link the server.
package stats

import "time"

// Server are the server's own figures, for load tools and dashboards.
type Server struct {
	OpenStreams int64 `json:"open_streams"`
	// HeartbeatsSent counts the keep-alives position streams sent (or were
	// sending) since start.
	HeartbeatsSent int64  `json:"heartbeats_sent"`
	Goroutines     int    `json:"goroutines"`
	HeapBytes      uint64 `json:"heap_bytes"`
	// StackBytes is the memory of goroutine stacks: most of a stream's cost.
	StackBytes uint64 `json:"stack_bytes"`
	// TotalBytes is all memory the Go runtime holds from the OS.
	TotalBytes uint64 `json:"total_bytes"`
	// RSSBytes is the resident set size from /proc (0 where there is none).
	RSSBytes uint64 `json:"rss_bytes"`
	// CPUSeconds is user+system CPU time used by the process so far.
	CPUSeconds float64 `json:"cpu_seconds"`
	// RunQueueWaitSeconds is the time the process's threads were ready to
	// run but waited for a CPU (/proc's schedstat; 0 where there is none):
	// what other work on the machine took from it.
	RunQueueWaitSeconds float64 `json:"run_queue_wait_seconds"`
	// WrittenBytes is what the process has written so far, to sockets and
	// files alike (/proc's wchar; 0 where there is none).
	WrittenBytes uint64 `json:"written_bytes"`
	Store        string `json:"store"`
	// Kafka is the event relay's progress, when KAFKA_BROKERS is set.
	Kafka *Kafka `json:"kafka,omitempty"`
	// Disk is the durable embedded store's group commits, when it is the
	// store.
	Disk *Disk `json:"disk,omitempty"`
	// Limits counts the requests each limit refused since start.
	Limits Limits `json:"limits"`
	// Cadence is the streaming cadence's settings and what it did.
	Cadence Cadence `json:"cadence"`
}

// Cadence is what the streaming cadence did since start (README,
// "Streaming cadence").
type Cadence struct {
	RealtimePositions int64   `json:"realtime_positions"`
	CoalesceSeconds   float64 `json:"coalesce_seconds"`
	MaxIntervalSecs   float64 `json:"max_interval_seconds"`
	// Held counts position messages the cadence held back (a stream far
	// from the head gets the newest state once its interval has passed).
	Held int64 `json:"held"`
	// Parked is the streams held back now that flushes pass by without a
	// look until their next message is due.
	Parked int64 `json:"parked"`
	// SendsInFlight and SendsWaiting are messages being written now and
	// waiting for one of the send slots; Sent* count the slots granted, by
	// priority: ends of streams and first states, positions within
	// realtime_positions, the rest with heartbeats. SendsQueued counts
	// those that had to wait.
	SendsInFlight int   `json:"sends_in_flight"`
	SendsWaiting  int   `json:"sends_waiting"`
	SentFinal     int64 `json:"sent_final"`
	SentRealtime  int64 `json:"sent_realtime"`
	SentCadenced  int64 `json:"sent_cadenced"`
	SendsQueued   int64 `json:"sends_queued"`
	// SendsStalled counts messages let past the limit because no slot was
	// given back for 250 ms (clients that do not read hold theirs).
	SendsStalled int64 `json:"sends_stalled"`
}

// Limits counts refusals by limit.
type Limits struct {
	// JoinsPerIP are joins refused by the per-address join limit.
	JoinsPerIP int64 `json:"joins_per_ip"`
	// StreamsPerSession, StreamsPerIP and StreamsMax are streams refused by
	// the per-session, per-address and per-replica caps.
	StreamsPerSession int64 `json:"streams_per_session"`
	StreamsPerIP      int64 `json:"streams_per_ip"`
	StreamsMax        int64 `json:"streams_max"`
	// StreamWriteTimeouts are streams ended because an update could not be
	// written within the write timeout.
	StreamWriteTimeouts int64 `json:"stream_write_timeouts"`
	// ConnsPerIP are connections closed by the per-address cap.
	ConnsPerIP int64 `json:"conns_per_ip"`
	// H2ResetFloods are HTTP/2 connections closed with GOAWAY for resetting
	// streams too fast.
	H2ResetFloods int64 `json:"h2_reset_floods"`
}

// Disk counts the durable embedded store's group commits since start.
type Disk struct {
	// Commits is how many synced commits were written; Records how many
	// log records (changing calls) they held: Records / Commits is the mean
	// group-commit size.
	Commits int64 `json:"commits"`
	Records int64 `json:"records"`
	// CommitSeconds is the wall time spent writing and syncing them.
	CommitSeconds float64 `json:"commit_seconds"`
}

// Kafka is a snapshot of the Kafka relay's progress.
type Kafka struct {
	// Backlog is how many entries waited in the outboxes at the last count
	// (BacklogAt), this relay's and others' alike.
	Backlog   int64     `json:"backlog"`
	BacklogAt time.Time `json:"backlog_at"`
	// Held is how many entries this relay had claimed and not yet acked, at
	// the last count.
	Held int `json:"held"`
	// Relayed counts entries the broker acknowledged and the outbox dropped.
	Relayed uint64 `json:"relayed"`
	// Failures counts failed produce attempts and failed store calls.
	Failures uint64 `json:"failures"`
	// LastError is the latest failure, and when it happened.
	LastError   string    `json:"last_error"`
	LastErrorAt time.Time `json:"last_error_at"`
}
