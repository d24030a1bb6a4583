package server

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the HTTP/2 reset limit. A browser cancels a few streams as a
// visitor moves on; hundreds a second on one connection is the rapid-reset
// attack, where each HEADERS starts a handler that the RST_STREAM right
// behind it cancels, costing the server far more than the client.
const (
	DefaultH2ResetsPerSecond = 100
	DefaultH2ResetBurst      = 1000
	// h2GuardLogEvery bounds the log to one line per interval.
	h2GuardLogEvery = 10 * time.Second
	// h2GoAwayGrace bounds the wait for a frame boundary to write GOAWAY at,
	// and then the client's time to read it before the connection closes.
	h2GoAwayGrace = time.Second
)

// errResetFlood ends the reading of a connection closed for resetting
// streams too fast.
var errResetFlood = errors.New("http2: client reset streams faster than allowed; connection closed")

// h2Guard is a listener that reads the frame headers a cleartext HTTP/2
// client sends and, when a connection resets streams faster than its token
// bucket allows, answers GOAWAY (ENHANCE_YOUR_CALM) and closes it. The HTTP/2
// server only says GOAWAY once unstarted handlers pile up; a client that
// resets each stream at once never gets there. HTTP/1.1 connections pass
// through untouched after their first bytes.
type h2Guard struct {
	net.Listener
	perSecond, burst float64
	log              *slog.Logger

	floods  atomic.Int64
	mu      sync.Mutex
	lastLog time.Time
}

// newH2Guard guards ln's connections; perSecond <= 0 guards none.
func newH2Guard(ln net.Listener, perSecond float64, burst int, log *slog.Logger) *h2Guard {
	return &h2Guard{Listener: ln, perSecond: perSecond, burst: float64(burst), log: log}
}

// Floods is how many connections the guard has closed.
func (g *h2Guard) Floods() int64 { return g.floods.Load() }

func (g *h2Guard) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil || g.perSecond <= 0 {
		return c, err
	}
	return &h2Conn{Conn: c, g: g, tokens: g.burst, done: make(chan struct{})}, nil
}

func (g *h2Guard) flooded() {
	n := g.floods.Add(1)
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := time.Now(); now.Sub(g.lastLog) >= h2GuardLogEvery {
		g.lastLog = now
		g.log.Warn("Closed HTTP/2 connections resetting streams too fast", "total", n,
			"resets_per_second", g.perSecond, "burst", g.burst)
	}
}

// Read-side states.
const (
	h2Preface = iota // matching the client preface
	h2Frames         // reading frame headers
	h2Pass           // not HTTP/2: nothing more to look at
)

const (
	h2FrameHeaderLen  = 9
	h2FrameHeaders    = 0x1
	h2FrameRSTStream  = 0x3
	h2FrameGoAway     = 0x7
	h2EnhanceYourCalm = 0xb
	h2ClientPreface   = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
)

// h2Conn is one guarded connection. It reads only frame headers and skips
// payloads by their length, so it costs a few comparisons per frame.
type h2Conn struct {
	net.Conn
	g *h2Guard

	// The read side belongs to the server's one reading goroutine.
	state     int
	matched   int // bytes of the preface matched so far
	hdr       [h2FrameHeaderLen]byte
	hdrN      int // bytes of a frame header split across reads
	skip      int // payload bytes of the current frame still to come
	tokens    float64
	last      time.Time
	maxStream uint32 // the highest stream the client opened
	flood     bool

	// h2 is set once the preface is read: from then on writes are frames.
	h2 atomic.Bool
	// The write side follows the server's frames so GOAWAY goes in between
	// two of them, never inside one.
	wmu     sync.Mutex
	wHdrN   int // header bytes written of the current frame
	wLen    int // its payload length, read from the header
	wSkip   int // its payload bytes still to be written
	pending bool
	goAway  [h2FrameHeaderLen + 8]byte
	gone    bool
	done    chan struct{} // closed once GOAWAY is written
	// calming is set once GOAWAY is on its way: calm closes the socket
	// itself, after the client has had a moment to read it.
	calming atomic.Bool
}

func (c *h2Conn) Read(p []byte) (int, error) {
	if c.flood {
		return 0, errResetFlood
	}
	n, err := c.Conn.Read(p)
	if c.scan(p[:n]) {
		c.flood = true
		c.g.flooded()
		c.calm()
		return 0, errResetFlood
	}
	return n, err
}

// scan follows the client's bytes; it reports whether a reset went over
// the bucket.
func (c *h2Conn) scan(b []byte) bool {
	if c.state == h2Pass {
		return false
	}
	var now time.Time // read once per Read, and only for resets
	for len(b) > 0 {
		if c.state == h2Preface {
			k := min(len(b), len(h2ClientPreface)-c.matched)
			if string(b[:k]) != h2ClientPreface[c.matched:c.matched+k] {
				c.state = h2Pass
				return false
			}
			c.matched += k
			b = b[k:]
			if c.matched == len(h2ClientPreface) {
				c.state = h2Frames
				c.h2.Store(true)
			}
			continue
		}
		if c.skip > 0 {
			k := min(len(b), c.skip)
			c.skip -= k
			b = b[k:]
			continue
		}
		var hdr []byte
		if c.hdrN == 0 && len(b) >= h2FrameHeaderLen {
			hdr, b = b[:h2FrameHeaderLen], b[h2FrameHeaderLen:]
		} else {
			k := copy(c.hdr[c.hdrN:], b)
			c.hdrN += k
			b = b[k:]
			if c.hdrN < h2FrameHeaderLen {
				return false
			}
			hdr, c.hdrN = c.hdr[:], 0
		}
		c.skip = int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		switch hdr[3] {
		case h2FrameHeaders:
			c.maxStream = max(c.maxStream, binary.BigEndian.Uint32(hdr[5:])&(1<<31-1))
		case h2FrameRSTStream:
			if now.IsZero() {
				now = time.Now()
			}
			if !c.takeToken(now) {
				return true
			}
		}
	}
	return false
}

// takeToken is the reset bucket: it refills at perSecond up to burst.
func (c *h2Conn) takeToken(now time.Time) bool {
	if !c.last.IsZero() {
		c.tokens = min(c.g.burst, c.tokens+now.Sub(c.last).Seconds()*c.g.perSecond)
	}
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// calm writes GOAWAY at the next frame boundary, then half-closes the
// connection and gives the client a moment to read it before closing:
// closing a socket with unread input resets it, and the reset could beat the
// GOAWAY to the client.
// The server, refused its next write, closes the connection meanwhile; that
// close is left to calm. A server write in progress holds the boundary; the
// server's own write and ping timeouts bound it.
func (c *h2Conn) calm() {
	c.wmu.Lock()
	c.calming.Store(true)
	c.goAway = h2GoAwayFrame(c.maxStream)
	if c.wHdrN == 0 && c.wSkip == 0 {
		c.writeGoAway()
	} else {
		c.pending = true
	}
	c.wmu.Unlock()
	t := time.NewTimer(h2GoAwayGrace)
	defer t.Stop()
	select {
	case <-c.done:
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		// Reading the rest would cost a system call per small write the
		// client makes; unread, it only fills the socket's buffer, and then
		// the client waits.
		t.Reset(h2GoAwayGrace)
		<-t.C
	case <-t.C:
		// The server wrote no more of its frame: close without a word.
	}
	_ = c.Conn.Close()
}

// writeGoAway writes the GOAWAY with c.wmu held, at a frame boundary.
func (c *h2Conn) writeGoAway() {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(h2GoAwayGrace))
	_, _ = c.Conn.Write(c.goAway[:])
	c.pending, c.gone = false, true
	close(c.done)
}

func h2GoAwayFrame(lastStream uint32) [h2FrameHeaderLen + 8]byte {
	var f [h2FrameHeaderLen + 8]byte
	f[2] = 8 // payload length
	f[3] = h2FrameGoAway
	binary.BigEndian.PutUint32(f[9:], lastStream)
	binary.BigEndian.PutUint32(f[13:], h2EnhanceYourCalm)
	return f
}

func (c *h2Conn) Close() error {
	if c.calming.Load() {
		return nil
	}
	return c.Conn.Close()
}

func (c *h2Conn) Write(p []byte) (int, error) {
	if !c.h2.Load() {
		return c.Conn.Write(p)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.gone {
		return 0, errResetFlood
	}
	if !c.pending {
		n, err := c.Conn.Write(p)
		c.follow(p[:n], false)
		return n, err
	}
	k := c.follow(p, true)
	n, err := c.Conn.Write(p[:k])
	if err != nil || c.wHdrN != 0 || c.wSkip != 0 {
		return n, err
	}
	c.writeGoAway()
	if n < len(p) {
		return n, errResetFlood
	}
	return n, nil
}

// follow advances the write side over p's frames and returns how many bytes
// it took: all of p, or with toBoundary up to the first frame boundary.
func (c *h2Conn) follow(p []byte, toBoundary bool) int {
	n := 0
	for n < len(p) {
		if c.wSkip > 0 {
			k := min(len(p)-n, c.wSkip)
			c.wSkip -= k
			n += k
		} else {
			for ; n < len(p) && c.wHdrN < h2FrameHeaderLen; n, c.wHdrN = n+1, c.wHdrN+1 {
				if c.wHdrN < 3 {
					c.wLen = c.wLen<<8 | int(p[n])
				}
			}
			if c.wHdrN == h2FrameHeaderLen {
				c.wSkip, c.wLen, c.wHdrN = c.wLen, 0, 0
			}
		}
		if toBoundary && c.wHdrN == 0 && c.wSkip == 0 {
			break
		}
	}
	return n
}
