package api

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
)

// deadlineRecorder records the write deadlines set on it.
type deadlineRecorder struct {
	http.ResponseWriter
	mu  sync.Mutex
	set []time.Time
}

func (r *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.set = append(r.set, t)
	return nil
}

func (r *deadlineRecorder) deadlines() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.set)
}

// TestWriteDeadline: the clock runs from the request's start except while
// the handler waits for an update; only time spent with it running counts,
// an expiry sets a deadline in the past once, and nothing fires after the
// request ends.
func TestWriteDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewStreamLimiter(StreamLimitConfig{}, nil)
		rec := &deadlineRecorder{ResponseWriter: httptest.NewRecorder()}
		h := withWriteDeadline(time.Second, l, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			wd := writeDeadlineFrom(r.Context())
			time.Sleep(900 * time.Millisecond) // reading the request, under the timeout
			wd.disarm()
			time.Sleep(time.Hour) // waiting for an update is not the client's doing
			for range 3 {
				wd.arm()
				time.Sleep(900 * time.Millisecond) // a slow write, each under the timeout
				wd.disarm()
			}
			if n := rec.deadlines(); n != 0 {
				t.Errorf("%d deadlines set on a stream that kept up", n)
			}
			wd.arm()
			time.Sleep(2 * time.Second) // a write the client never lets through
			synctest.Wait()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.set) != 1 || !rec.set[0].Before(time.Now()) {
				t.Errorf("deadlines %v, want one in the past", rec.set)
			}
		}))
		h.ServeHTTP(rec, httptest.NewRequest("POST", waitroomv1connect.WaitroomServiceStreamQueuePositionProcedure, nil))
		if n := l.Refused().WriteTimeouts; n != 1 {
			t.Fatalf("WriteTimeouts = %d, want 1", n)
		}

		// A request that ends with the clock running leaves nothing behind.
		h = withWriteDeadline(time.Second, l, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		h.ServeHTTP(rec, httptest.NewRequest("POST", waitroomv1connect.WaitroomServiceStreamQueuePositionProcedure, nil))
		time.Sleep(time.Minute)
		if n := rec.deadlines(); n != 1 {
			t.Fatalf("%d deadlines after the request ended, want 1", n)
		}
	})
}

// TestWriteDeadlineOnlyStreams: other procedures run without one, and
// WriteTimeout off adds none at all.
func TestWriteDeadlineOnlyStreams(t *testing.T) {
	l := NewStreamLimiter(StreamLimitConfig{}, nil)
	var got *writeDeadline
	next := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = writeDeadlineFrom(r.Context()) })
	withWriteDeadline(time.Second, l, next).ServeHTTP(httptest.NewRecorder(),
		httptest.NewRequest("POST", waitroomv1connect.WaitroomServiceJoinQueueProcedure, nil))
	if got != nil {
		t.Fatal("JoinQueue got a write deadline")
	}
	withWriteDeadline(-1, l, next).ServeHTTP(httptest.NewRecorder(),
		httptest.NewRequest("POST", waitroomv1connect.WaitroomServiceStreamQueuePositionProcedure, nil))
	if got != nil {
		t.Fatal("a write deadline with the timeout off")
	}
	got.arm() // a nil deadline is a no-op
	got.disarm()
}
