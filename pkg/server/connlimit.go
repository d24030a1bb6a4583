package server

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waitroom/waitroom/pkg/api"
)

// DefaultMaxConnsPerIP caps the connections one client address holds open.
// Thousands of phones can share one address behind a carrier-grade NAT, each
// with a connection of its own; one machine opening many more is a flood.
const DefaultMaxConnsPerIP = 5000

// connLimit is a listener that closes, as soon as it is accepted, a
// connection from an address already holding max of them. Connections from
// trusted proxies are not counted: a proxy carries many clients.
type connLimit struct {
	net.Listener
	max     int
	proxies api.Proxies
	log     *slog.Logger

	refused atomic.Int64
	mu      sync.Mutex
	open    map[netip.Addr]int
	lastLog time.Time
}

func newConnLimit(ln net.Listener, max int, proxies api.Proxies, log *slog.Logger) *connLimit {
	return &connLimit{Listener: ln, max: max, proxies: proxies, log: log, open: map[netip.Addr]int{}}
}

// Refused is how many connections the cap has closed.
func (l *connLimit) Refused() int64 { return l.refused.Load() }

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, ok := l.counted(c)
		if !ok {
			return c, nil
		}
		if l.take(addr) {
			return &limitedConn{Conn: c, release: func() { l.give(addr) }}, nil
		}
		c.Close()
	}
}

// counted is the address a connection counts against; ok is false for a
// connection that is not counted.
func (l *connLimit) counted(c net.Conn) (netip.Addr, bool) {
	if l.max <= 0 {
		return netip.Addr{}, false
	}
	addr, ok := l.proxies.Client(c.RemoteAddr().String(), nil)
	return addr, ok && !l.proxies.Contains(addr)
}

func (l *connLimit) take(addr netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[addr] >= l.max {
		l.refused.Add(1)
		if now := time.Now(); now.Sub(l.lastLog) >= 10*time.Second {
			l.lastLog = now
			l.log.Warn("Closed connections over the per-address cap", "total", l.refused.Load(), "max", l.max)
		}
		return false
	}
	l.open[addr]++
	return true
}

func (l *connLimit) give(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[addr]--; l.open[addr] <= 0 {
		delete(l.open, addr)
	}
}

// limitedConn gives its place back when closed, once.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
