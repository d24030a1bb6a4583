package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
)

// pool is a set of HTTP/2 (h2c) connections, each carrying many multiplexed
// calls. Each has its own transport, so the caller decides exactly how many
// connections exist and how many streams share one.
type pool struct {
	clients []waitroomv1connect.WaitroomServiceClient
	admin   []waitroomv1connect.EventAdminServiceClient
	trs     []*http.Transport
}

func clientOptions(protocol string) ([]connect.ClientOption, error) {
	switch protocol {
	case "connect":
		return nil, nil
	case "grpc":
		return []connect.ClientOption{connect.WithGRPC()}, nil
	case "grpcweb":
		return []connect.ClientOption{connect.WithGRPCWeb()}, nil
	}
	return nil, fmt.Errorf("-protocol %q: want connect, grpc or grpcweb", protocol)
}

// newPool opens n connections to addr. Source addresses rotate over srcIPs
// (loopback aliases such as 127.0.0.2) when given, which multiplies the
// ephemeral ports available to the tool.
func newPool(ctx context.Context, cfg *Config, n int) (*pool, error) {
	opts, err := clientOptions(cfg.Protocol)
	if err != nil {
		return nil, err
	}
	p := &pool{}
	for i := range n {
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		d := &net.Dialer{Timeout: 5 * time.Second}
		if len(cfg.srcIPs) > 0 {
			d.LocalAddr = &net.TCPAddr{IP: cfg.srcIPs[i%len(cfg.srcIPs)]}
		}
		tr := &http.Transport{
			Protocols:   &protos,
			DialContext: d.DialContext,
			HTTP2: &http.HTTP2Config{
				// Keep the tool's own per-stream memory small: messages are tiny.
				MaxReceiveBufferPerStream:     16 << 10,
				MaxReceiveBufferPerConnection: 8 << 20,
				SendPingTimeout:               30 * time.Second,
			},
			MaxIdleConnsPerHost: 1,
		}
		hc := &http.Client{Transport: tr}
		base := "http://" + cfg.Addr
		p.trs = append(p.trs, tr)
		p.clients = append(p.clients, waitroomv1connect.NewWaitroomServiceClient(hc, base, opts...))
		p.admin = append(p.admin, waitroomv1connect.NewEventAdminServiceClient(hc, base, opts...))
	}
	// One call per connection first: the transport learns the server's stream
	// limit from its SETTINGS before the load arrives, so it never opens extra
	// connections for a burst.
	for _, c := range p.clients {
		_, err := c.GetQueueStatus(ctx, connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: "warmup~00000000000000000000000000"}))
		if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
			return nil, fmt.Errorf("connect to %s: %w", cfg.Addr, err)
		}
	}
	return p, nil
}

// client returns the i-th connection's client.
func (p *pool) client(i int) waitroomv1connect.WaitroomServiceClient {
	return p.clients[i%len(p.clients)]
}

func (p *pool) close() {
	for _, tr := range p.trs {
		tr.CloseIdleConnections()
	}
}

// raiseFDLimit lifts the soft open-files limit to the hard one and reports
// whether need descriptors fit.
func raiseFDLimit(need uint64) (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	}
	if r.Cur < need {
		return r.Cur, fmt.Errorf("open-files limit is %d but this run needs about %d: raise it (ulimit -n %d) for the tool and the server", r.Cur, need, need)
	}
	return r.Cur, nil
}
