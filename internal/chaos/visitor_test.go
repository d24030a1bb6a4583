package chaos

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kgo"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/kafka"
)

// callTimeout bounds every unary call: past it the outcome is unknown.
const callTimeout = 3 * time.Second

// outcome sorts a call's error: codes the server answers before it changes
// anything are a certain failure; everything else (Unavailable, a deadline,
// a cut connection) may or may not have taken effect.
func outcome(err error) (Outcome, string) {
	if err == nil {
		return OK, ""
	}
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeFailedPrecondition,
		connect.CodePermissionDenied, connect.CodeUnauthenticated, connect.CodeResourceExhausted,
		connect.CodeAlreadyExists, connect.CodeUnimplemented:
		return Fail, err.Error()
	}
	return Unknown, err.Error()
}

// expiredErr reports whether err is GetQueueStatus's answer for an
// expired session (NotFound "session expired"): the state EXPIRED, told
// as an error.
func expiredErr(err error) bool {
	var ce *connect.Error
	return errors.As(err, &ce) && ce.Code() == connect.CodeNotFound && strings.Contains(ce.Message(), "session expired")
}

// statusOp fills op from a GetQueueStatus answer.
func statusOp(op *Op, res *connect.Response[waitroomv1.PositionUpdate], err error) {
	op.Outcome, op.Err = outcome(err)
	switch {
	case err == nil:
		m := res.Msg
		op.Status, op.Position, op.QueueLength, op.Token = m.Status, m.GetPosition(), m.GetQueueLength(), m.CheckoutToken
	case expiredErr(err):
		op.Outcome, op.Err, op.Status = OK, "", expired
	}
}

// intent is what a visitor means to do with its place.
type intent int

const (
	leaveQueued     intent = iota // leave while waiting (or, admitted first, complete)
	completeByID                  // complete with the session id
	completeByToken               // complete with the checkout token
	completeByKafka               // have the checkout service send checkout.completed
	neverComplete                 // let the checkout window run out
)

// visitor is one client: it joins once (retrying the same user id until a
// call is acknowledged), follows its session by stream or by polling, and
// leaves or completes as its intent says.
type visitor struct {
	w        *world
	id       int
	user     string
	event    string
	rng      *rand.Rand // the visitor's own calls
	frng     *rand.Rand // its stream or polling, which runs beside them
	intent   intent
	streamer bool
	// crashy visitors go away after a join whose outcome is unknown, as a
	// crashed client would: their session may or may not exist.
	crashy bool

	session string
	streams int
}

// state is a state the visitor saw.
type state struct {
	status waitroomv1.SessionStatus
	token  string
}

// client is any replica's client of any protocol.
func (v *visitor) client(rng *rand.Rand) waitroomv1connect.WaitroomServiceClient {
	r := v.w.replicas[rng.IntN(len(v.w.replicas))]
	return r.clients[rng.IntN(len(r.clients))]
}

func pause(ctx context.Context, rng *rand.Rand, min, max time.Duration) bool {
	d := min + time.Duration(rng.Int64N(int64(max-min)+1))
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (v *visitor) run(ctx context.Context) {
	if !v.join(ctx) {
		return
	}
	states := make(chan state, 64)
	go func() {
		defer close(states)
		if v.streamer {
			v.stream(ctx, states)
		} else {
			v.poll(ctx, states)
		}
	}()
	var leaveAt <-chan time.Time
	if v.intent == leaveQueued {
		leaveAt = time.After(time.Duration(v.rng.Int64N(int64(1500 * time.Millisecond))))
	}
	for {
		select {
		case <-leaveAt:
			v.leave(ctx)
		case st, ok := <-states:
			if !ok {
				return
			}
			if st.status == ready {
				v.checkout(ctx, st.token)
			}
		}
	}
}

func (v *visitor) join(ctx context.Context) bool {
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		op := Op{Kind: Join, Process: v.id, User: v.user, Event: v.event, Invoke: v.w.rec.Time()}
		res, err := v.client(v.rng).JoinQueue(cctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: v.user, EventId: v.event}))
		cancel()
		op.Outcome, op.Err = outcome(err)
		if err == nil {
			op.Session, op.Status, op.Position, op.Token = res.Msg.SessionId, res.Msg.Status, res.Msg.GetPosition(), res.Msg.CheckoutToken
			v.session = res.Msg.SessionId
		}
		v.w.rec.Add(op)
		if op.Outcome != Unknown || v.crashy {
			return op.Outcome == OK
		}
		if !pause(ctx, v.rng, 50*time.Millisecond, 300*time.Millisecond) {
			return false
		}
	}
	return false
}

// call makes a unary call on the session, recording it, and retries while
// its outcome is unknown, up to tries times.
func (v *visitor) call(ctx context.Context, kind Kind, tries int, f func(context.Context, waitroomv1connect.WaitroomServiceClient) error) Outcome {
	for range tries {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		op := Op{Kind: kind, Process: v.id, Event: v.event, Session: v.session, Invoke: v.w.rec.Time()}
		err := f(cctx, v.client(v.rng))
		cancel()
		op.Outcome, op.Err = outcome(err)
		v.w.rec.Add(op)
		if op.Outcome != Unknown || !pause(ctx, v.rng, 50*time.Millisecond, 300*time.Millisecond) {
			return op.Outcome
		}
	}
	return Unknown
}

func (v *visitor) leave(ctx context.Context) {
	v.call(ctx, Leave, 20, func(ctx context.Context, c waitroomv1connect.WaitroomServiceClient) error {
		_, err := c.LeaveQueue(ctx, connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: v.session}))
		return err
	})
}

// checkout completes (or not) an admitted session, after a short think.
func (v *visitor) checkout(ctx context.Context, token string) {
	if v.intent == neverComplete || !pause(ctx, v.rng, 0, 400*time.Millisecond) {
		return
	}
	switch v.intent {
	case completeByKafka:
		v.completeByKafka(ctx)
		return
	case completeByToken:
	default:
		token = ""
	}
	v.call(ctx, Complete, 20, func(ctx context.Context, c waitroomv1connect.WaitroomServiceClient) error {
		req := &waitroomv1.CompleteCheckoutRequest{CheckoutToken: token}
		if token == "" {
			req.SessionId = v.session
		}
		_, err := c.CompleteCheckout(ctx, connect.NewRequest(req))
		return err
	})
}

// completeByKafka produces checkout.completed for the session: ok means
// the broker took it, not that the slot is free.
func (v *visitor) completeByKafka(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	op := Op{Kind: CompleteKafka, Process: v.id, Event: v.event, Session: v.session, Invoke: v.w.rec.Time()}
	rec := &kgo.Record{Topic: kafka.TopicCheckoutCompleted, Key: []byte(v.event),
		Value: []byte(`{"session_id":"` + v.session + `"}`)}
	err := v.w.producer.ProduceSync(cctx, rec).FirstErr()
	op.Outcome, op.Err = OK, ""
	if err != nil {
		op.Outcome, op.Err = Unknown, err.Error()
	}
	v.w.rec.Add(op)
}

// poll reads the session's status until it is READY or final.
func (v *visitor) poll(ctx context.Context, states chan<- state) {
	for pause(ctx, v.frng, 100*time.Millisecond, 400*time.Millisecond) {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		op := Op{Kind: Status, Process: v.id, Event: v.event, Session: v.session, Invoke: v.w.rec.Time()}
		res, err := v.client(v.frng).GetQueueStatus(cctx, connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: v.session}))
		cancel()
		statusOp(&op, res, err)
		v.w.rec.Add(op)
		if op.Outcome == OK {
			states <- state{op.Status, op.Token}
			if endsStream(op.Status) {
				return
			}
		}
	}
}

// stream follows the session on a stream, opening another (on any
// replica) whenever one breaks, until one sends READY or a final state and
// the server ends it.
func (v *visitor) stream(ctx context.Context, states chan<- state) {
	for ctx.Err() == nil {
		if v.streamOnce(ctx, states) {
			return
		}
		if !pause(ctx, v.frng, 50*time.Millisecond, 300*time.Millisecond) {
			return
		}
	}
}

// streamOnce reads one stream to its end; done is true once it carried an
// ending state.
func (v *visitor) streamOnce(ctx context.Context, states chan<- state) (done bool) {
	v.streams++
	n := v.streams
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := v.client(v.frng).StreamQueuePosition(sctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: v.session}))
	end := Op{Kind: StreamEnd, Process: v.id, Event: v.event, Session: v.session, Stream: n, Invoke: v.w.rec.Time()}
	if err != nil {
		end.Outcome, end.Err = outcome(err)
		v.w.rec.Add(end)
		return false
	}
	defer st.Close()
	// A stream that sent its ending state must end soon after; one that
	// does not is given up, and counted as such.
	var giveUp *time.Timer
	for st.Receive() {
		m := st.Msg()
		v.w.rec.Add(Op{Kind: StreamMsg, Process: v.id, Event: v.event, Session: v.session, Stream: n, Outcome: OK,
			Status: m.Status, Position: m.GetPosition(), QueueLength: m.GetQueueLength(), Token: m.CheckoutToken})
		states <- state{m.Status, m.CheckoutToken}
		if endsStream(m.Status) && !done {
			done = true
			giveUp = time.AfterFunc(10*time.Second, cancel)
		}
	}
	if giveUp != nil {
		giveUp.Stop()
	}
	end.Outcome, end.Err = outcome(st.Err())
	if errors.Is(sctx.Err(), context.Canceled) && ctx.Err() == nil {
		end.Outcome, end.Err = Unknown, "the client gave up waiting for the end"
	}
	v.w.rec.Add(end)
	return done
}
