package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/serveconf"
	"github.com/waitroom/waitroom/internal/stats"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// floorMain runs `waitroom-bench floor`: a bare Connect server on the
// waitroom server's own HTTP/2 settings (internal/serveconf) that answers the
// calls the join and fanout scenarios make with the least work that keeps
// them exact, so that running a scenario against it measures what the stack
// costs by itself. BENCHMARKS.md ("The stack's floor") divides waitroom's
// figures by its.
func floorMain(args []string) int {
	fs := flag.NewFlagSet("waitroom-bench floor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:50056", "address to serve the API on")
	debugAddr := fs.String("debug-addr", "127.0.0.1:6060", "address to serve /debug/stats on")
	maxStreams := fs.Uint("max-streams-per-conn", serveconf.DefaultMaxStreamsPerConn, "HTTP/2 streams on one connection (the server's HTTP2_MAX_CONCURRENT_STREAMS)")
	cadence := fs.Bool("cadence", false, "send position messages on the server's streaming cadence (the cadence scenarios' floor) instead of every change to every stream at once")
	realtime := fs.Int64("realtime-positions", fanout.DefaultRealtimePositions, "with -cadence: positions sent every change (the server's QUEUE_STREAM_REALTIME_POSITIONS)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cad *fanout.Cadence
	if *cadence {
		if *realtime < 1 {
			// As the server's QUEUE_STREAM_REALTIME_POSITIONS: 0 would hold nothing back.
			fmt.Fprintln(os.Stderr, "waitroom-bench floor: -realtime-positions must be at least 1")
			return 2
		}
		cad = &fanout.Cadence{Coalesce: fanout.DefaultCoalesce, RealtimePositions: *realtime, MaxInterval: fanout.DefaultMaxInterval}
	}
	f, err := startFloor(*addr, *debugAddr, uint32(*maxStreams), cad)
	if err != nil {
		fmt.Fprintln(os.Stderr, "waitroom-bench floor:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "floor serving on %s, stats on %s\n", f.Addr(), f.DebugAddr())
	<-ctx.Done()
	f.Close()
	return 0
}

// floorServer is a running floor.
type floorServer struct {
	q           *floorQueue
	api, debug  *http.Server
	ln, debugLn net.Listener
	stop        context.CancelFunc // ends the cadence's pacing
}

// startFloor serves the floor on addr; cad, when set, is the streaming
// cadence it holds position messages to.
func startFloor(addr, debugAddr string, maxStreams uint32, cad *fanout.Cadence) (*floorServer, error) {
	f := &floorServer{q: newFloorQueue(cad), stop: func() {}}
	mux := http.NewServeMux()
	mux.Handle(waitroomv1connect.NewWaitroomServiceHandler(floorWaitroom{q: f.q}, serveconf.HandlerOptions()...))
	mux.Handle(waitroomv1connect.NewEventAdminServiceHandler(floorAdmin{q: f.q}, serveconf.HandlerOptions()...))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	// A failure to set the write scheduler would make the floor differ from
	// the server: refuse to measure then.
	srv, err := serveconf.HTTPServer(mux, maxStreams, log.New(io.Discard, "", 0))
	if err != nil {
		return nil, err
	}
	f.api = srv
	dmux := http.NewServeMux()
	dmux.HandleFunc("GET /debug/stats", f.serveStats)
	// A CPU profile of the floor reads against the server's (its DEBUG_ADDR
	// serves the same).
	dmux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	f.debug = &http.Server{Handler: dmux, ReadHeaderTimeout: 10 * time.Second}
	if f.ln, err = net.Listen("tcp", addr); err != nil {
		return nil, err
	}
	if f.debugLn, err = net.Listen("tcp", debugAddr); err != nil {
		f.ln.Close()
		return nil, err
	}
	if cad != nil {
		var ctx context.Context
		ctx, f.stop = context.WithCancel(context.Background())
		go f.q.pace(ctx)
	}
	go f.api.Serve(f.ln)
	go f.debug.Serve(f.debugLn)
	return f, nil
}

func (f *floorServer) Addr() net.Addr      { return f.ln.Addr() }
func (f *floorServer) DebugAddr() net.Addr { return f.debugLn.Addr() }

// Close stops serving and ends every open stream.
func (f *floorServer) Close() {
	f.stop()
	f.api.Close()
	f.debug.Close()
}

func (f *floorServer) serveStats(w http.ResponseWriter, _ *http.Request) {
	st := stats.Process()
	st.OpenStreams = f.q.streams.Load()
	st.Store = "floor"
	if c := f.q.cad; c != nil {
		// The load tool holds the streams to the cadence it finds here.
		st.Cadence.RealtimePositions = c.RealtimePositions
		st.Cadence.CoalesceSeconds = c.Coalesce.Seconds()
		st.Cadence.MaxIntervalSecs = c.MaxInterval.Seconds()
		st.Cadence.Held = f.q.held.Load()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// floorWaitroom is the visitors' API on the floor.
type floorWaitroom struct {
	q *floorQueue
	waitroomv1connect.UnimplementedWaitroomServiceHandler
}

var errFloorNoSession = connect.NewError(connect.CodeNotFound, errors.New("session not found"))

// JoinQueue is the floor's unary call: a new session at the tail, no
// deduplication by user, nothing stored.
func (h floorWaitroom) JoinQueue(_ context.Context, req *connect.Request[waitroomv1.JoinQueueRequest]) (*connect.Response[waitroomv1.JoinQueueResponse], error) {
	ev := req.Msg.GetEventId()
	if err := queue.ValidateEventID(ev); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	return connect.NewResponse(wire.JoinQueueResponse(h.q.event(ev).join(ev), true)), nil
}

func (h floorWaitroom) GetQueueStatus(_ context.Context, req *connect.Request[waitroomv1.GetQueueStatusRequest]) (*connect.Response[waitroomv1.PositionUpdate], error) {
	e, s := h.q.session(req.Msg.GetSessionId())
	if s == nil {
		return nil, errFloorNoSession
	}
	return connect.NewResponse(wire.PositionUpdate(e.status(s))), nil
}

func (h floorWaitroom) LeaveQueue(_ context.Context, req *connect.Request[waitroomv1.LeaveQueueRequest]) (*connect.Response[waitroomv1.LeaveQueueResponse], error) {
	e, s := h.q.session(req.Msg.GetSessionId())
	if s == nil {
		return nil, errFloorNoSession
	}
	e.leave(s)
	return connect.NewResponse(&waitroomv1.LeaveQueueResponse{}), nil
}

// StreamQueuePosition sends the session's state, then every new state, from
// a reused message as the server does, and ends after a final status.
func (h floorWaitroom) StreamQueuePosition(ctx context.Context, req *connect.Request[waitroomv1.StreamQueuePositionRequest], stream *connect.ServerStream[waitroomv1.PositionUpdate]) error {
	e, s := h.q.session(req.Msg.GetSessionId())
	if s == nil {
		return errFloorNoSession
	}
	h.q.streams.Add(1)
	defer h.q.streams.Add(-1)
	box := e.watch(s)
	defer e.unwatch(s, box)
	var msg wire.PositionUpdateBuf
	var last queue.View
	first := true
	for {
		select {
		case <-box.wake:
		case <-ctx.Done():
			return nil
		}
		v := box.take()
		if !first && v.Session.Status == last.Session.Status && v.Position == last.Position && v.QueueLength == last.QueueLength {
			continue // a later change undid the one this stream missed
		}
		if first {
			v.HeartbeatInterval = floorHeartbeat
			first = false
		}
		if err := stream.Send(msg.Fill(v)); err != nil {
			return err
		}
		last = v
		if v.Session.Status != queue.StatusQueued {
			return nil
		}
	}
}

// floorAdmin is the part of the admin API the scenarios use. It takes any
// token: authentication is the server's own work.
type floorAdmin struct {
	q *floorQueue
	waitroomv1connect.UnimplementedEventAdminServiceHandler
}

func (h floorAdmin) PutEvent(_ context.Context, req *connect.Request[waitroomv1.PutEventRequest]) (*connect.Response[waitroomv1.PutEventResponse], error) {
	ev := req.Msg.GetEvent()
	if err := queue.ValidateEventID(ev.GetEventId()); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	e := h.q.event(ev.GetEventId())
	e.set(ev.GetState() == waitroomv1.EventState_EVENT_STATE_ACTIVE, ev.GetMaxConcurrent())
	return connect.NewResponse(&waitroomv1.PutEventResponse{Event: h.proto(ev.GetEventId(), e)}), nil
}

func (h floorAdmin) GetEvent(_ context.Context, req *connect.Request[waitroomv1.GetEventRequest]) (*connect.Response[waitroomv1.GetEventResponse], error) {
	id := req.Msg.GetEventId()
	h.q.mu.RLock()
	e := h.q.events[id]
	h.q.mu.RUnlock()
	if e == nil {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("event not found"))
	}
	return connect.NewResponse(&waitroomv1.GetEventResponse{Event: h.proto(id, e)}), nil
}

func (floorAdmin) proto(id string, e *floorEvent) *waitroomv1.Event {
	queued, processing, max, active := e.figures()
	st := waitroomv1.EventState_EVENT_STATE_PAUSED
	if active {
		st = waitroomv1.EventState_EVENT_STATE_ACTIVE
	}
	return &waitroomv1.Event{EventId: id, State: st, MaxConcurrent: max, QueueLength: queued, Processing: processing}
}
