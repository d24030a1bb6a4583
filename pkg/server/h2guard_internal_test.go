package server

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// clientFrames is what a client sends: the preface, then HEADERS on streams
// 1, 3 and 5 each followed by RST_STREAM, and some frames with payloads.
func clientFrames(t testing.TB) []byte {
	var b bytes.Buffer
	b.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&b, nil)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}))
	for _, id := range []uint32{1, 3, 5} {
		must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: bytes.Repeat([]byte{0x82}, 40), EndHeaders: true}))
		must(fr.WriteData(id, false, bytes.Repeat([]byte("x"), 300)))
		must(fr.WriteRSTStream(id, http2.ErrCodeCancel))
	}
	must(fr.WriteWindowUpdate(0, 1000))
	return b.Bytes()
}

func newTestGuardConn(perSecond float64, burst int) *h2Conn {
	g := newH2Guard(nil, perSecond, burst, slog.New(slog.DiscardHandler))
	return &h2Conn{g: g, tokens: g.burst, done: make(chan struct{})}
}

// TestH2GuardScanSplitReads: however the client's bytes are split across
// reads, the guard sees the same streams and resets, and the reset over the
// bucket is the same one.
func TestH2GuardScanSplitReads(t *testing.T) {
	in := clientFrames(t)
	for _, chunk := range []int{1, 2, 5, 9, 10, 24, 25, 100, len(in)} {
		c := newTestGuardConn(1e-9, 3) // no refill: three resets allowed
		flood := false
		for b := in; len(b) > 0 && !flood; {
			k := min(chunk, len(b))
			flood = c.scan(b[:k])
			b = b[k:]
		}
		if flood || c.state != h2Frames || c.maxStream != 5 || c.tokens >= 1 || !c.h2.Load() {
			t.Fatalf("chunks of %d: flood %t, state %d, max stream %d, tokens %v", chunk, flood, c.state, c.maxStream, c.tokens)
		}
		c = newTestGuardConn(1e-9, 2)
		for b := in; len(b) > 0 && !flood; {
			k := min(chunk, len(b))
			flood = c.scan(b[:k])
			b = b[k:]
		}
		if !flood || c.maxStream != 5 {
			t.Fatalf("chunks of %d, burst 2: flood %t at stream %d, want the third reset over", chunk, flood, c.maxStream)
		}
	}
}

// TestH2GuardPassesHTTP1: a connection that does not start with the
// preface is not looked at again, nor are its writes.
func TestH2GuardPassesHTTP1(t *testing.T) {
	c := newTestGuardConn(1, 1)
	if c.scan([]byte("PRI * HTTP/1.1\r\n")) || c.state != h2Pass || c.h2.Load() {
		t.Fatalf("state %d after a request that only looks like the preface", c.state)
	}
	if c.scan(bytes.Repeat([]byte{0, 0, 4, h2FrameRSTStream, 0, 0, 0, 0, 1, 0, 0, 0, 8}, 10)) {
		t.Fatal("a passed-through connection was counted")
	}
}

// recordConn records writes and reads nothing.
type recordConn struct {
	net.Conn
	out bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *recordConn) Close() error                { return nil }

func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }

// TestH2GuardGoAwayAtFrameBoundary: a GOAWAY asked for while the server is
// part way through a frame is written right after that frame, and the
// server's next frames are refused; the client can read every frame.
func TestH2GuardGoAwayAtFrameBoundary(t *testing.T) {
	var server bytes.Buffer
	fr := http2.NewFramer(&server, nil)
	fr.WriteSettings()
	fr.WriteData(1, false, bytes.Repeat([]byte("y"), 5000))
	fr.WritePing(false, [8]byte{1})
	out := server.Bytes()
	split := len(out) - 17 - 3000 // part way through the DATA frame

	rec := &recordConn{}
	c := newTestGuardConn(1, 1)
	c.Conn = rec
	c.h2.Store(true)
	c.maxStream = 7
	if n, err := c.Write(out[:split]); n != split || err != nil {
		t.Fatalf("first write: %d, %v", n, err)
	}
	c.wmu.Lock()
	c.goAway = h2GoAwayFrame(c.maxStream)
	c.pending = c.wHdrN != 0 || c.wSkip != 0
	c.wmu.Unlock()
	if !c.pending {
		t.Fatal("the write ended at a frame boundary; the test wants one inside a frame")
	}
	n, err := c.Write(out[split:])
	if !errors.Is(err, errResetFlood) || n != len(out)-split-17 {
		t.Fatalf("second write: %d, %v; want the rest of the DATA frame and a refusal", n, err)
	}
	if _, err := c.Write(out[:9]); !errors.Is(err, errResetFlood) {
		t.Fatalf("a write after GOAWAY: %v", err)
	}
	select {
	case <-c.done:
	default:
		t.Fatal("GOAWAY written but not announced")
	}
	rd := http2.NewFramer(nil, bytes.NewReader(rec.out.Bytes()))
	var types []http2.FrameType
	for {
		f, err := rd.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %v: %v", types, err)
		}
		types = append(types, f.Header().Type)
		if ga, ok := f.(*http2.GoAwayFrame); ok && (ga.ErrCode != http2.ErrCodeEnhanceYourCalm || ga.LastStreamID != 7) {
			t.Fatalf("GOAWAY %v, last stream %d", ga.ErrCode, ga.LastStreamID)
		}
	}
	want := []http2.FrameType{http2.FrameSettings, http2.FrameData, http2.FrameGoAway}
	if len(types) != len(want) || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("frames %v, want %v", types, want)
	}
}

// BenchmarkH2GuardScan is the guard's cost per client frame, with payloads
// skipped by length (run with -benchmem; it allocates nothing).
func BenchmarkH2GuardScan(b *testing.B) {
	in := clientFrames(b)
	body := in[len(http2.ClientPreface):]
	frames := 0
	for rd := http2.NewFramer(nil, bytes.NewReader(body)); ; frames++ {
		if _, err := rd.ReadFrame(); err != nil {
			break
		}
	}
	reads := bytes.Repeat(body, 64)
	c := newTestGuardConn(1e12, 1<<30)
	c.scan([]byte(http2.ClientPreface))
	b.SetBytes(int64(len(reads)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for p := reads; len(p) > 0; {
			k := min(len(p), 16<<10) // a read of the server's size
			if c.scan(p[:k]) {
				b.Fatal("flood")
			}
			p = p[k:]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64*frames), "ns/frame")
}

// discardConn takes every write.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkH2GuardWrite is the guard's cost per server frame: the lock and
// the frame headers of each write, in the server's 4 KiB writes.
func BenchmarkH2GuardWrite(b *testing.B) {
	var out bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	frames := 0
	for out.Len() < 64<<10 {
		fr.WriteData(1, false, bytes.Repeat([]byte("p"), 120)) // a position update
		frames++
	}
	c := newTestGuardConn(1, 1)
	c.Conn = discardConn{}
	c.h2.Store(true)
	p := out.Bytes()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for q := p; len(q) > 0; {
			k := min(len(q), 4<<10)
			if _, err := c.Write(q[:k]); err != nil {
				b.Fatal(err)
			}
			q = q[k:]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*frames), "ns/frame")
}
