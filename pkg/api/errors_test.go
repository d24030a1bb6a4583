package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"connectrpc.com/connect"

	"github.com/waitroom/waitroom/pkg/queue"
)

// TestStoreErrorsKeepSlowApartFromDown: a store that did not answer in time
// is DeadlineExceeded ("store timed out"), and only one that cannot be
// reached is Unavailable; neither leaks the store's own detail.
func TestStoreErrorsKeepSlowApartFromDown(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		err  error
		code connect.Code
		msg  string
	}{
		{fmt.Errorf("%w: %v", queue.ErrTimeout, context.DeadlineExceeded), connect.CodeDeadlineExceeded, "store timed out"},
		{fmt.Errorf("%w: dial tcp 10.0.0.1:6379: connect: connection refused", queue.ErrUnavailable), connect.CodeUnavailable, "store unavailable"},
	} {
		got := connectError(log, "/waitroom.v1.WaitroomService/StreamQueuePosition", c.err)
		var ce *connect.Error
		if !errors.As(got, &ce) || ce.Code() != c.code || ce.Message() != c.msg {
			t.Errorf("connectError(%v) = %v, want %v %q", c.err, got, c.code, c.msg)
		}
	}
}
