package wire_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
)

func sampleViews() []queue.View {
	at := time.Date(2026, 5, 1, 10, 0, 0, 123456789, time.UTC)
	s := queue.Session{ID: "concert~0123456789abcdefghjkmnpqrs", UserID: "u1", EventID: "concert", Ticket: 7, Status: queue.StatusQueued}
	ready := s
	ready.Status = queue.StatusReady
	held := s
	held.HeldUntil = at.Add(15 * time.Minute)
	return []queue.View{
		{Session: held, Position: 3, QueueLength: 9, UpdatedAt: at},
		{Session: s, Position: 1234, QueueLength: 100000, UpdatedAt: at, EstimatedWait: 90*time.Second + 5*time.Millisecond},
		{Session: s, Position: 1, QueueLength: 1, UpdatedAt: at},
		{Session: ready, QueueLength: 5, UpdatedAt: at, CheckoutToken: "tok", CheckoutURL: "/checkout"},
		{Session: s, Position: 1 << 40, QueueLength: -3, UpdatedAt: at},
		{Session: s, Position: 3, QueueLength: 9, UpdatedAt: at, HeartbeatInterval: 20 * time.Second},
		{Session: s, Position: 3, QueueLength: 9, UpdatedAt: at, Heartbeat: true, EstimatedWait: time.Minute},
		{Session: s, Position: 3, QueueLength: 9, UpdatedAt: at, Heartbeat: true, HeartbeatInterval: 1500 * time.Millisecond},
	}
}

// TestPositionUpdateBufMatchesPositionUpdate: the reused message a stream
// sends must be byte for byte what PositionUpdate builds, whatever it held
// before.
func TestPositionUpdateBufMatchesPositionUpdate(t *testing.T) {
	var b wire.PositionUpdateBuf
	views := sampleViews()
	for round := range 2 {
		for i, v := range views {
			want, err := proto.MarshalOptions{Deterministic: true}.Marshal(wire.PositionUpdate(v))
			if err != nil {
				t.Fatal(err)
			}
			got, err := proto.MarshalOptions{Deterministic: true}.Marshal(b.Fill(v))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("round %d view %d: Fill gives %x, PositionUpdate %x", round, i, got, want)
			}
		}
	}
}

// BenchmarkEncodeUpdate is the per-message encoding a stream does: building
// the PositionUpdate and marshalling it, fresh per message and reusing the
// stream's message.
func BenchmarkEncodeUpdate(b *testing.B) {
	v := sampleViews()[0]
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], wire.PositionUpdate(v))
		}
	})
	b.Run("reused", func(b *testing.B) {
		b.ReportAllocs()
		var ub wire.PositionUpdateBuf
		var buf []byte
		for b.Loop() {
			buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], ub.Fill(v))
		}
	})
}
