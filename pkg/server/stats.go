package server

import (
	"encoding/json"
	"net/http"

	"github.com/waitroom/waitroom/internal/stats"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue/diskstore"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// stats reads the figures; cheap enough to poll every second.
func (s *Server) stats() stats.Server {
	st := stats.Process()
	st.OpenStreams = s.svc.OpenStreams()
	st.HeartbeatsSent = s.hub.Heartbeats()
	st.Store = s.storeName()
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
		Parked:            c.Parked,
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
