// Package serveconf holds the HTTP and Connect settings every waitroom
// listener serves with: the server's public port and the load tool's floor
// server (waitroom-bench floor) take them from here, so a figure measured
// against the floor is the same stack the server runs on.
package serveconf

import (
	"log"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"
)

const (
	// DefaultMaxStreamsPerConn caps concurrent HTTP/2 streams on one
	// connection when the caller gives no cap.
	DefaultMaxStreamsPerConn = 1000
	// MaxRequestBytes bounds a request message; a larger one is refused with
	// ResourceExhausted before it is decoded.
	MaxRequestBytes = 64 << 10
	// CompressMinBytes is the smallest message worth compressing. Position
	// updates are about a hundred bytes: gzip would make them larger, and a
	// compressor reset per message costs more CPU than the rest of a stream's
	// send.
	CompressMinBytes = 1 << 10
)

// HTTPServer returns a server for h that serves HTTP/1.1 and cleartext
// HTTP/2 on one port, with at most maxStreamsPerConn streams on a connection
// (DefaultMaxStreamsPerConn when 0), and without a WriteTimeout (it would cut
// long streams): HTTP/2 pings find dead peers and a write that makes no
// progress closes its connection.
//
// HTTP/2 is served by golang.org/x/net/http2 (configured through the same
// http.Server settings) only to choose its write scheduler: the standard
// library's round-robin scheduler walks every open stream of a connection for
// each frame it writes, and a connection here holds up to maxStreamsPerConn
// mostly idle position streams. The random scheduler only looks at streams
// with frames waiting. The error is that of configuring the scheduler; the
// server returned with it still works, with the default scheduler.
func HTTPServer(h http.Handler, maxStreamsPerConn uint32, errorLog *log.Logger) (*http.Server, error) {
	if maxStreamsPerConn == 0 {
		maxStreamsPerConn = DefaultMaxStreamsPerConn
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errorLog,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: int(maxStreamsPerConn),
			// Requests are small; keeping per-stream receive buffers small
			// keeps 100k mostly idle streams cheap.
			MaxReceiveBufferPerStream: 64 << 10,
			SendPingTimeout:           30 * time.Second,
			PingTimeout:               15 * time.Second,
			WriteByteTimeout:          30 * time.Second,
		},
	}
	h2 := &http2.Server{NewWriteScheduler: func() http2.WriteScheduler { return http2.NewRandomWriteScheduler() }}
	// Only a TLS configuration can make it fail, and this server has none.
	return srv, http2.ConfigureServer(srv, h2)
}

// HandlerOptions are the Connect options every handler takes, whatever its
// interceptors.
func HandlerOptions() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithReadMaxBytes(MaxRequestBytes),
		connect.WithCompressMinBytes(CompressMinBytes),
	}
}
