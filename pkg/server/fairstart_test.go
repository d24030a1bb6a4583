package server_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/internal/verifyshuffle"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/server"
)

// TestFairStart: visitors who join before the sale starts see the pre-queue
// (QUEUED, position = queue length = its size, the seed's commitment) on
// join, status and stream; at the start the processor places them, the seed
// is revealed, and their positions are the order verify-shuffle recomputes
// from the admin API, with a later arrival behind them.
func TestFairStart(t *testing.T) { testFairStart(t, server.Config{}, false) }

func TestFairStartDisk(t *testing.T) { testFairStart(t, server.Config{Store: server.StoreDisk}, false) }

func TestFairStartRedis(t *testing.T) {
	testFairStart(t, redisConfig(t, redistest.Start(t).Addr()), false)
}

// TestFairStartTwoReplicas: one replica places, the visitors' streams are on
// the other, which learns the placement from the change feed alone.
func TestFairStartTwoReplicas(t *testing.T) {
	testFairStart(t, redisConfig(t, redistest.Start(t).Addr()), true)
}

const fairAdminToken = "fair-admin-token-0123456789abcdef"

func testFairStart(t *testing.T, cfg server.Config, twoReplicas bool) {
	var clock atomic.Int64
	base := time.Now().UTC().Truncate(time.Millisecond)
	clock.Store(base.UnixNano())
	cfg.Queue.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	// The clock jumps an hour to the start, past every presence mark the
	// streams made: presence is off, so the placement is what is tested.
	cfg.Queue.PresenceGrace = -1
	cfg.AdminToken = fairAdminToken
	ts := startServer(t, cfg) // places, and serves the admin API
	visitors := ts
	if twoReplicas {
		visitors = startServer(t, cfg)
	}
	ctx := context.Background()
	admin := waitroomv1connect.NewEventAdminServiceClient(h1Client(), ts.URL, connect.WithInterceptors(bearer(fairAdminToken)))
	c := protocols()[0].client(visitors)
	const event = "fair-gala"
	start := base.Add(time.Hour)

	put, err := admin.PutEvent(ctx, connect.NewRequest(&waitroomv1.PutEventRequest{Event: &waitroomv1.Event{
		EventId: event, MaxConcurrent: 1, SaleStartsAt: timestamppb.New(start)}}))
	if err != nil {
		t.Fatal(err)
	}
	commitment := put.Msg.Event.GetSeedCommitment()
	if len(commitment) != 64 || put.Msg.Event.GetSeed() != "" || !put.Msg.Event.GetSaleStartsAt().AsTime().Equal(start) {
		t.Fatalf("PutEvent answered %v: want the start, a commitment and no seed", put.Msg.Event)
	}
	_, err = admin.ListPreQueue(ctx, connect.NewRequest(&waitroomv1.ListPreQueueRequest{EventId: event}))
	wantCode(t, err, connect.CodeFailedPrecondition, "not placed")

	const n = 6
	var ids []string
	var streams []*streamReader
	for i := range n {
		j := join(t, c, fmt.Sprintf("early%d", i), event)
		fs := j.GetFairStart()
		if j.GetStatus() != waitroomv1.SessionStatus_SESSION_STATUS_QUEUED || j.GetPosition() != int32(i+1) || j.GetQueueLength() != int32(i+1) ||
			fs.GetSeedCommitment() != commitment || fs.GetPlaced() || fs.GetSeed() != "" || !fs.GetSaleStartsAt().AsTime().Equal(start) {
			t.Fatalf("pre-queue join %d: %v", i, j)
		}
		ids = append(ids, j.SessionId)
		streams = append(streams, openStream(t, c, j.SessionId))
	}
	preQueue := func(m *waitroomv1.PositionUpdate) bool {
		return queued(n, n)(m) && m.GetFairStart().GetSeedCommitment() == commitment && !m.GetFairStart().GetPlaced()
	}
	for _, s := range streams {
		s.until("the pre-queue's bound with the commitment", preQueue)
	}
	if st := status(t, c, ids[2]); !preQueue(st) {
		t.Fatalf("GetQueueStatus before the start: %v", st)
	}
	process(t, ts) // before the start: admits nobody, places nothing
	if st := status(t, c, ids[0]); !preQueue(st) {
		t.Fatalf("GetQueueStatus after a pass before the start: %v", st)
	}

	// At the start, before the processor runs: a later arrival.
	clock.Store(start.UnixNano())
	late := join(t, c, "late", event)
	if late.GetPosition() != n+1 || late.GetFairStart() != nil {
		t.Fatalf("join at the start: %v, want position %d outside the pre-queue", late, n+1)
	}
	process(t, ts) // places, then admits the first placed

	got, err := admin.GetEvent(ctx, connect.NewRequest(&waitroomv1.GetEventRequest{EventId: event}))
	if err != nil {
		t.Fatal(err)
	}
	seed := got.Msg.Event.GetSeed()
	if got.Msg.Event.GetSeedCommitment() != commitment || len(seed) != 64 || got.Msg.Event.GetPreQueuePlaced() != n {
		t.Fatalf("GetEvent after placement: %v", got.Msg.Event)
	}
	order := verifyShuffle(t, ts.URL, event, seed, commitment, ids)

	byID := map[string]*streamReader{}
	for i, id := range ids {
		byID[id] = streams[i]
	}
	placed := func(m *waitroomv1.PositionUpdate) bool {
		return m.GetFairStart().GetSeed() == seed && m.GetFairStart().GetPlaced()
	}
	if r := byID[order[0]].until("READY, first in the seed's order", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_READY)); !placed(r) {
		t.Fatalf("READY without the revealed seed: %v", r)
	}
	for i, id := range order[1:] {
		want := queued(int32(i+1), n)
		m := byID[id].until(fmt.Sprintf("position %d of %d with the seed", i+1, n), func(m *waitroomv1.PositionUpdate) bool { return want(m) && placed(m) })
		if st := status(t, c, id); !want(st) || !placed(st) {
			t.Fatalf("GetQueueStatus of %s: %v, stream said %v", id, st, m)
		}
	}
	if st := status(t, c, late.SessionId); !queued(n, n)(st) || st.GetFairStart() != nil {
		t.Fatalf("the later arrival: %v, want last, at %d", st, n)
	}
}

// verifyShuffle runs verify-shuffle against the server's admin API, and
// from the ids and the seed alone, as a visitor holding the list would; it
// returns the order both agree on.
func verifyShuffle(t *testing.T, url, event, seed, commitment string, ids []string) []string {
	t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	err := verifyshuffle.Run(ctx, []string{"-server", url, "-event", event, "-commitment", commitment},
		verifyshuffle.Env{Stdout: &out, Getenv: func(string) string { return fairAdminToken }, HTTP: h1Client()})
	if err != nil || !strings.Contains(out.String(), "# OK") {
		t.Fatalf("verify-shuffle against the server: %v\n%s", err, out.String())
	}
	order := verifiedOrder(t, &out)
	if len(order) != len(ids) {
		t.Fatalf("verify-shuffle printed %d sessions, want %d", len(order), len(ids))
	}
	var again bytes.Buffer
	if err := verifyshuffle.Run(ctx, []string{"-seed", seed, "-commitment", commitment},
		verifyshuffle.Env{Stdin: strings.NewReader(strings.Join(ids, "\n")), Stdout: &again}); err != nil {
		t.Fatalf("verify-shuffle from the ids: %v", err)
	}
	if o := verifiedOrder(t, &again); strings.Join(o, ",") != strings.Join(order, ",") {
		t.Fatalf("from the ids %v, from the server %v", o, order)
	}
	return order
}

// verifiedOrder reads verify-shuffle's "position<TAB>id" lines.
func verifiedOrder(t *testing.T, out *bytes.Buffer) []string {
	t.Helper()
	var ids []string
	for line := range strings.Lines(out.String()) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		pos, id, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if !ok || pos != fmt.Sprint(len(ids)+1) {
			t.Fatalf("verify-shuffle line %q", line)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestFairStartAdminErrors: bad fair-start input gets the right code and
// changes nothing, and ListPreQueue needs the admin token like the rest.
func TestFairStartAdminErrors(t *testing.T) {
	var clock atomic.Int64
	base := time.Now().UTC().Truncate(time.Millisecond)
	clock.Store(base.UnixNano())
	ts := startServer(t, server.Config{AdminToken: fairAdminToken, Queue: queueClock(&clock)})
	ctx := context.Background()
	admin := waitroomv1connect.NewEventAdminServiceClient(h1Client(), ts.URL, connect.WithInterceptors(bearer(fairAdminToken)))
	put := func(at *timestamppb.Timestamp) (*waitroomv1.Event, error) {
		res, err := admin.PutEvent(ctx, connect.NewRequest(&waitroomv1.PutEventRequest{Event: &waitroomv1.Event{EventId: "fair-errors", SaleStartsAt: at}}))
		if err != nil {
			return nil, err
		}
		return res.Msg.Event, nil
	}
	_, err := put(&timestamppb.Timestamp{Seconds: 1 << 40})
	wantCode(t, err, connect.CodeInvalidArgument, "sale_starts_at")
	start := base.Add(time.Minute)
	e, err := put(timestamppb.New(start))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := put(nil); err != nil || again.GetSeedCommitment() != e.GetSeedCommitment() || !again.GetSaleStartsAt().AsTime().Equal(start) {
		t.Fatalf("PutEvent without sale_starts_at: %v, %v; want it kept, with its commitment", again, err)
	}
	noAuth := waitroomv1connect.NewEventAdminServiceClient(h1Client(), ts.URL)
	_, err = noAuth.ListPreQueue(ctx, connect.NewRequest(&waitroomv1.ListPreQueueRequest{EventId: "fair-errors"}))
	wantCode(t, err, connect.CodeUnauthenticated, "token")
	_, err = admin.ListPreQueue(ctx, connect.NewRequest(&waitroomv1.ListPreQueueRequest{EventId: "nope"}))
	wantCode(t, err, connect.CodeNotFound, "event not found")

	join(t, protocols()[0].client(ts), "early", "fair-errors")
	clock.Store(start.UnixNano())
	process(t, ts)
	_, err = put(timestamppb.New(start.Add(time.Hour)))
	wantCode(t, err, connect.CodeFailedPrecondition, "sale has started")
	if e, err := put(timestamppb.New(start)); err != nil || e.GetPreQueuePlaced() != 1 || e.GetSeed() == "" {
		t.Fatalf("PutEvent with the same start after placement: %v, %v", e, err)
	}
	res, err := admin.ListPreQueue(ctx, connect.NewRequest(&waitroomv1.ListPreQueueRequest{EventId: "fair-errors"}))
	if err != nil || len(res.Msg.GetSessionIds()) != 1 || res.Msg.GetSeedCommitment() != e.GetSeedCommitment() {
		t.Fatalf("ListPreQueue after placement: %v, %v", res, err)
	}
}

func queueClock(clock *atomic.Int64) queue.Config {
	return queue.Config{Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() }}
}
