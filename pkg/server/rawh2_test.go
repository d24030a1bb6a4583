package server_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/waitroom/waitroom/internal/stats"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// rawH2 is an HTTP/2 client that writes frames as a test says, with no
// manners of its own: it answers PINGs and nothing else. Whatever the server
// sends is summed up on frames.
type rawH2 struct {
	t      testing.TB
	conn   net.Conn
	mu     sync.Mutex // serialises writes: the test's and the PING answers
	fr     *http2.Framer
	hbuf   bytes.Buffer
	enc    *hpack.Encoder
	frames chan h2Seen
}

// h2Seen is one frame from the server, or the end of the connection (err).
type h2Seen struct {
	typ    http2.FrameType
	stream uint32
	code   http2.ErrCode // RST_STREAM's and GOAWAY's
	last   uint32        // GOAWAY's last stream
	status string        // a response HEADERS' :status
	err    error
}

// dialH2 opens a connection to ts with the client preface and settings.
func dialH2(t testing.TB, ts *servertest.Server, settings ...http2.Setting) *rawH2 {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawH2{t: t, conn: conn, fr: http2.NewFramer(conn, conn), frames: make(chan h2Seen, 1<<16)}
	c.enc = hpack.NewEncoder(&c.hbuf)
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	go c.read()
	return c
}

func (c *rawH2) read() {
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.frames <- h2Seen{err: err}
			return
		}
		s := h2Seen{typ: f.Header().Type, stream: f.Header().StreamID}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.write(func() error { return c.fr.WriteSettingsAck() })
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				c.write(func() error { return c.fr.WritePing(true, f.Data) })
			}
		case *http2.RSTStreamFrame:
			s.code = f.ErrCode
		case *http2.GoAwayFrame:
			s.code, s.last = f.ErrCode, f.LastStreamID
		case *http2.HeadersFrame:
			fields, _ := dec.DecodeFull(f.HeaderBlockFragment())
			for _, hf := range fields {
				if hf.Name == ":status" {
					s.status = hf.Value
				}
			}
		}
		c.frames <- s
	}
}

func (c *rawH2) write(f func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return f()
}

// headers opens stream id with a request for path; the request has a body
// unless endStream.
func (c *rawH2) headers(id uint32, method, path string, endStream bool, extra ...string) error {
	return c.write(func() error {
		c.hbuf.Reset()
		fields := append([]string{":method", method, ":scheme", "http", ":authority", "waitroom", ":path", path}, extra...)
		for i := 0; i < len(fields); i += 2 {
			c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(),
			EndHeaders: true, EndStream: endStream})
	})
}

// until reads the server's frames until want says so, or the connection
// ends; it fails the test if neither happens within the wait limit.
func (c *rawH2) until(what string, want func(h2Seen) bool) h2Seen {
	c.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case s := <-c.frames:
			if want(s) || s.err != nil {
				return s
			}
		case <-timeout:
			c.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// debugStats reads the server's /debug/stats.
func debugStats(t testing.TB, ts *servertest.Server) stats.Server {
	t.Helper()
	res, err := http.Get("http://" + ts.DebugAddr().String() + "/debug/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc stats.Server
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}
