package server_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/server"
)

// A Go service joins a queue with the generated Connect client and follows
// the position stream until the visitor is admitted.
func Example() {
	// A waitroom on a free port, one checkout slot, admitting every 50ms,
	// keeping nothing on disk and serving no metrics.
	cfg := server.Config{
		ListenAddr:  "127.0.0.1:0",
		MetricsAddr: server.MetricsOff,
		Store:       server.StoreMemory,
		Queue:       queue.Config{DefaultMaxConcurrent: 1, ProcessInterval: 50 * time.Millisecond},
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		panic(err)
	}
	go srv.Serve(ctx)
	baseURL := "http://" + srv.Addr().String()

	client := waitroomv1connect.NewWaitroomServiceClient(http.DefaultClient, baseURL)
	joined, err := client.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: "alice", EventId: "concert-2024"}))
	if err != nil {
		panic(err)
	}
	stream, err := client.StreamQueuePosition(ctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: joined.Msg.SessionId}))
	if err != nil {
		panic(err)
	}
	defer stream.Close()
	for stream.Receive() {
		m := stream.Msg()
		if m.Status == waitroomv1.SessionStatus_SESSION_STATUS_READY {
			fmt.Println(m.Status, "token issued:", m.CheckoutToken != "", "go to:", m.CheckoutUrl)
		}
	}
	fmt.Println("stream closed:", stream.Err())
	// Output:
	// SESSION_STATUS_READY token issued: true go to: /checkout
	// stream closed: <nil>
}
