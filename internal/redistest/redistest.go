// Package redistest starts real redis-server processes for tests: a single
// server (optionally with an fsync-always AOF, so it can be killed and
// restarted without losing acknowledged writes) or a Redis Cluster of several
// masters. Each test gets its own processes on free ports in its own
// temporary directory; they are stopped when the test ends.
//
// When redis-server (or redis-cli, for clusters) is not installed the test
// fails, saying how to install Redis or to skip the Redis tests with
// WAITROOM_SKIP_REDIS=1; with CI=true it fails even then, so a CI image
// without Redis cannot silently skip them.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// startTimeout bounds how long a server may take to answer PING after it is
// started (AOF replay included).
const startTimeout = 20 * time.Second

type config struct {
	aof     bool
	cluster bool
	args    []string
}

// Option configures Start.
type Option func(*config)

// WithAOF turns on the append-only file with appendfsync always, so every
// acknowledged write survives a SIGKILL and comes back after Restart.
func WithAOF() Option { return func(c *config) { c.aof = true } }

// WithArgs adds redis-server command-line arguments ("--name", "value", …).
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// Server is one redis-server process owned by a test.
type Server struct {
	tb      testing.TB
	dir     string
	port    int
	args    []string
	cluster bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	client rueidis.Client
}

// Start runs redis-server on a free 127.0.0.1 port in a fresh temporary
// directory, waits until it answers PING, and stops it when the test ends.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	requireBinary(tb, "redis-server")
	var c config
	for _, o := range opts {
		o(&c)
	}
	appendonly := "no"
	if c.aof {
		appendonly = "yes"
	}
	s := &Server{
		tb:      tb,
		dir:     tb.TempDir(),
		cluster: c.cluster,
		args: append([]string{
			"--save", "",
			"--appendonly", appendonly,
			"--appendfsync", "always",
		}, c.args...),
	}
	tb.Cleanup(s.stop)
	s.startOnFreePort(false)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// Dir is the server's working directory (its AOF and log live there).
func (s *Server) Dir() string { return s.dir }

// Kill stops the server with SIGKILL, as a crash would, and waits until the
// process is gone.
func (s *Server) Kill() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

// Freeze stops the server with SIGSTOP, as a machine too busy to schedule it
// would: connections stay open and commands wait unanswered. Thaw (SIGCONT)
// lets it answer them; the test's end thaws it too.
func (s *Server) Freeze() (thaw func()) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatal("redistest: Freeze on a stopped server")
	}
	pid := s.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		s.tb.Fatalf("redistest: SIGSTOP: %v", err)
	}
	var once sync.Once
	thaw = func() { once.Do(func() { _ = syscall.Kill(pid, syscall.SIGCONT) }) }
	s.tb.Cleanup(thaw)
	return thaw
}

// Restart starts the server again on the same port and directory (killing it
// first if it still runs), so with WithAOF its data comes back, and waits until
// it answers PING.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	s.killLocked()
	s.mu.Unlock()
	s.startOnFreePort(true)
}

// Do runs one command through a small helper client owned by the server
// (created on first use, closed with the server) and returns its result.
func (s *Server) Do(ctx context.Context, args ...string) rueidis.RedisResult {
	c, err := s.helperClient()
	if err != nil {
		return rueidis.NewErrorResult(err)
	}
	return c.Do(ctx, c.B().Arbitrary(args...).Build())
}

// MustString runs a command with Do and returns its reply as a string (an
// integer reply in decimal), failing the test on error.
func (s *Server) MustString(args ...string) string {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := s.Do(ctx, args...).ToMessage()
	if err == nil && m.IsInt64() {
		n, _ := m.AsInt64()
		return strconv.FormatInt(n, 10)
	}
	var v string
	if err == nil {
		v, err = m.ToString()
	}
	if err != nil {
		s.tb.Fatalf("redis %v: %v", args, err)
	}
	return v
}

// Info returns the text of an INFO-like command (INFO, CLUSTER INFO).
func (s *Server) Info(args ...string) string {
	s.tb.Helper()
	return verbatim(s.MustString(args...))
}

// CommandStats returns INFO commandstats as command name → calls.
func (s *Server) CommandStats() map[string]int64 {
	s.tb.Helper()
	return ParseCommandStats(s.Info("INFO", "commandstats"))
}

// verbatim drops the format prefix of a RESP3 verbatim string ("txt:…"),
// which the client hands over as part of the text.
func verbatim(v string) string {
	if len(v) > 4 && v[3] == ':' {
		return v[4:]
	}
	return v
}

// ParseCommandStats parses the text of INFO commandstats into command name →
// calls ("cmdstat_zadd:calls=3,…" gives "zadd": 3).
func ParseCommandStats(info string) map[string]int64 {
	out := map[string]int64{}
	for line := range strings.Lines(info) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out
}

// CommandDelta is after-before per command of two ParseCommandStats
// results, leaving out the commands named in ignore and those whose count
// did not move.
func CommandDelta(before, after map[string]int64, ignore ...string) map[string]int64 {
	d := map[string]int64{}
	for cmd, n := range after {
		if slices.Contains(ignore, cmd) {
			continue
		}
		if n -= before[cmd]; n != 0 {
			d[cmd] = n
		}
	}
	return d
}

// FormatCommands writes a CommandDelta as "N commands (get=2 set=1)".
func FormatCommands(d map[string]int64) string {
	var total int64
	var parts []string
	for _, cmd := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, fmt.Sprintf("%s=%d", cmd, d[cmd]))
		total += d[cmd]
	}
	return fmt.Sprintf("%d commands (%s)", total, strings.Join(parts, " "))
}

func (s *Server) helperClient() (rueidis.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{s.Addr()},
		ForceSingleClient: true,
		DisableCache:      true,
		CacheSizeEachConn: 1 << 16,
		PipelineMultiplex: 0,
		Dialer:            net.Dialer{Timeout: time.Second},
		ConnWriteTimeout:  5 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	s.client = c
	return c, nil
}

// startOnFreePort starts the process; when keepPort is false it picks a new
// free port and retries if another process took it in the meantime.
func (s *Server) startOnFreePort(keepPort bool) {
	s.tb.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if !keepPort {
			s.port = freePort(s.tb, s.cluster)
		}
		err := s.launch()
		if err == nil {
			return
		}
		lastErr = err
		if keepPort {
			break
		}
	}
	s.tb.Fatalf("redistest: cannot start redis-server: %v\n%s", lastErr, s.logTail())
}

// launch starts redis-server and waits for PING; on failure the process is
// gone when it returns.
func (s *Server) launch() error {
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--logfile", "redis.log",
		"--daemonize", "no",
		"--protected-mode", "no",
	}, s.args...)
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = s.dir
	// Its own process group, so a Ctrl-C of go test does not race our cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	if err := waitPing(s.Addr(), exited); err != nil {
		s.Kill()
		return err
	}
	return nil
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	// The whole group: a fork doing an AOF rewrite must not outlive its parent.
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
	s.killLocked()
	if s.tb.Failed() {
		s.tb.Logf("redis-server %s log tail:\n%s", s.Addr(), s.logTail())
	}
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitPing polls addr with PING over a raw connection until it answers PONG,
// the process exits or startTimeout passes. LOADING replies (AOF replay) keep
// it waiting.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("redis-server exited during start-up")
		default:
		}
		if pingOnce(addr) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server at %s did not answer PING within %v", addr, startTimeout)
}

func pingOnce(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(buf[:n]), "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(string(buf[:n])))
	}
	return nil
}

// freePort returns a port that was free a moment ago. With bus it also checks
// port+10000, which a cluster node uses for its cluster bus.
func freePort(tb testing.TB, bus bool) int {
	tb.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("redistest: no free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !bus {
			return port
		}
		if port+10000 > 65535 {
			continue
		}
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err != nil {
			continue
		}
		l2.Close()
		return port
	}
	tb.Fatalf("redistest: no free port pair for a cluster node")
	return 0
}

// requireBinary fails the test when name is not on PATH, unless the
// environment says WAITROOM_SKIP_REDIS=1, when it skips it. A skip is silent
// under a plain `go test ./...` (it prints only "ok" for a package whose
// tests skipped), so skipping must be asked for; CI=true never skips.
func requireBinary(tb testing.TB, name string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	msg := fmt.Sprintf("\n\n*** %s is not on PATH. Install Redis 7 (e.g. the redis-server and redis-tools "+
		"packages) to run this Redis test", name)
	switch {
	case os.Getenv("CI") == "true":
		tb.Fatal(msg + ". CI=true: a missing Redis is a failure, not a skip. ***\n")
	case os.Getenv("WAITROOM_SKIP_REDIS") == "1":
		tb.Skip(msg + "; SKIPPING it (WAITROOM_SKIP_REDIS=1). ***\n")
	default:
		tb.Fatal(msg + ", or set WAITROOM_SKIP_REDIS=1 to skip the Redis tests. ***\n")
	}
}
