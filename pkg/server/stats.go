package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"

	"github.com/waitroom/waitroom/internal/stats"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue/diskstore"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

var statsMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/total:bytes",
}

// stats reads the figures; cheap enough to poll every second.
func (s *Server) stats() stats.Server {
	samples := make([]metrics.Sample, len(statsMetrics))
	for i, name := range statsMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	u64 := func(i int) uint64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	st := stats.Server{
		OpenStreams:    s.svc.OpenStreams(),
		HeartbeatsSent: s.hub.Heartbeats(),
		Goroutines:     runtime.NumGoroutine(),
		HeapBytes:      u64(0),
		StackBytes:     u64(1),
		TotalBytes:     u64(2),
		RSSBytes:       rss(),
		CPUSeconds:     processCPU(),
		WrittenBytes:   writtenBytes(),
		Store:          s.storeName(),
	}
	sr := s.streamLimit.Refused()
	st.Limits = stats.Limits{JoinsPerIP: s.joinLimit.Refused(),
		StreamsPerSession: sr.PerSession, StreamsPerIP: sr.PerIP, StreamsMax: sr.Max,
		StreamWriteTimeouts: sr.WriteTimeouts,
		ConnsPerIP:          s.conns.Refused(), H2ResetFloods: s.h2guard.Floods()}
	st.Cadence = cadenceStats(s.hub.Cadence())
	if s.relay != nil {
		st.Kafka = kafkaStats(s.relay.Stats())
	}
	if d, ok := s.store.(*diskstore.Store); ok {
		ds := d.Stats()
		st.Disk = &stats.Disk{Commits: ds.Commits, Records: ds.Records, CommitSeconds: ds.CommitTime.Seconds()}
	}
	return st
}

// cadenceStats is the streaming cadence in /debug/stats's terms.
func cadenceStats(c fanout.CadenceStats) stats.Cadence {
	return stats.Cadence{
		RealtimePositions: c.RealtimePositions,
		CoalesceSeconds:   c.Coalesce.Seconds(),
		MaxIntervalSecs:   c.MaxInterval.Seconds(),
		Held:              c.Held,
		SendsInFlight:     c.SendsInFlight,
		SendsWaiting:      c.SendsWaiting,
		SentFinal:         c.SentFinal,
		SentRealtime:      c.SentRealtime,
		SentCadenced:      c.SentCadenced,
		SendsQueued:       c.SendsQueued,
		SendsStalled:      c.SendsStalled,
	}
}

// kafkaStats is the relay's progress in /debug/stats's terms.
func kafkaStats(r kafka.RelayStats) *stats.Kafka {
	return &stats.Kafka{
		Backlog:     r.Backlog,
		BacklogAt:   r.BacklogAt,
		Held:        r.Held,
		Relayed:     r.Relayed,
		Failures:    r.Failures,
		LastError:   r.LastError,
		LastErrorAt: r.LastErrorAt,
	}
}

func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(s.stats())
}

// rss reads VmRSS from /proc/self/status.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "VmRSS:" {
			kb, _ := strconv.ParseUint(string(f[1]), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// writtenBytes reads wchar from /proc/self/io: every byte the process
// handed to write calls, sockets included.
func writtenBytes() uint64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("wchar:")); ok {
			n, _ := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return n
		}
	}
	return 0
}

// processCPU reads utime+stime from /proc/self/stat, in seconds.
func processCPU() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(string(f[11]), 10, 64)
	st, _ := strconv.ParseUint(string(f[12]), 10, 64)
	return float64(ut+st) / 100 // USER_HZ is 100 on Linux
}
