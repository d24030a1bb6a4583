// Command waitroom-bench drives a running waitroom over real HTTP/2 (h2c)
// connections with the generated Connect client, many streams multiplexed per
// connection, and reports throughput, latency, correctness and server cost.
//
//	waitroom-bench -scenario join   -n 200000 -c 256
//	waitroom-bench -scenario fanout -streams 100000 -changes 100 -change-rate 5
//	waitroom-bench -scenario admit  -queue 50000 -admit 20000
//	waitroom-bench floor -addr 127.0.0.1:50056 -debug-addr 127.0.0.1:6060
//
// floor serves the stack's floor (floor.go) for the scenarios to run against.
//
// fanout and admit need the server's WAITROOM_ADMIN_TOKEN (-admin-token, or the
// same variable in the tool's environment) to pause the event and free slots.
// Every run talks only to the address given (loopback by default), is bounded
// by -timeout, and ends by checking that every remaining session's position is
// exact. See BENCHMARKS.md for the figures and the commands behind them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Config is one run's settings.
type Config struct {
	Addr           string        `json:"addr"`
	Scenario       string        `json:"scenario"`
	Protocol       string        `json:"protocol"`
	Conns          int           `json:"conns"`
	StreamsPerConn int           `json:"streams_per_conn"`
	Concurrency    int           `json:"concurrency"`
	Joins          int           `json:"joins,omitempty"`
	Rate           float64       `json:"rate,omitempty"`
	Prefill        int           `json:"prefill,omitempty"`
	Streams        int           `json:"streams,omitempty"`
	Changes        int           `json:"changes,omitempty"`
	ChangeRate     float64       `json:"change_rate,omitempty"`
	Idle           time.Duration `json:"idle,omitempty"`
	Mix            string        `json:"mix,omitempty"`
	Queue          int           `json:"queue,omitempty"`
	Admit          int           `json:"admit,omitempty"`
	Event          string        `json:"event"`
	RedisAddr      string        `json:"redis_addr,omitempty"`
	DebugAddr      string        `json:"debug_addr,omitempty"`
	Verify         bool          `json:"verify"`
	Seed           uint64        `json:"seed"`
	Settle         time.Duration `json:"settle"`
	CadenceSlack   time.Duration `json:"cadence_slack,omitempty"`
	Timeout        time.Duration `json:"timeout"`
	SrcIPs         string        `json:"src_ips,omitempty"`
	AdminToken     string        `json:"-"`
	JSONPath       string        `json:"-"`
	Quiet          bool          `json:"-"`

	srcIPs []net.IP
	mix    mix
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		os.Exit(floorMain(os.Args[2:]))
	}
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "waitroom-bench:", err)
		os.Exit(2)
	}
	// The tool holds one goroutine and one client stream per server stream:
	// collect less often than the default so GC does not crowd the server off
	// the shared cores. A setting in GOGC wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg, os.Stderr)
	if rep != nil {
		rep.print(os.Stdout)
		if cfg.JSONPath != "" {
			if werr := rep.writeJSON(cfg.JSONPath); werr != nil {
				fmt.Fprintln(os.Stderr, "waitroom-bench:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "waitroom-bench:", err)
		os.Exit(1)
	}
	if rep != nil && len(rep.Failures) > 0 {
		os.Exit(1)
	}
}

func parseFlags(args []string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("waitroom-bench", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:50056", "waitroom address (host:port, loopback)")
	fs.StringVar(&c.Scenario, "scenario", "join", "join, fanout or admit")
	fs.StringVar(&c.Protocol, "protocol", "connect", "connect, grpc or grpcweb")
	fs.IntVar(&c.Conns, "conns", 8, "HTTP/2 connections for unary calls")
	fs.IntVar(&c.StreamsPerConn, "streams-per-conn", 1000, "streams multiplexed on one connection (at most the server's HTTP2_MAX_CONCURRENT_STREAMS)")
	fs.IntVar(&c.Concurrency, "c", 256, "calls in flight at once")
	fs.IntVar(&c.Joins, "n", 100000, "join: measured JoinQueue calls")
	fs.Float64Var(&c.Rate, "rate", 0, "join: calls per second, open loop (0: as fast as -c allows)")
	fs.IntVar(&c.Prefill, "prefill", 0, "join: sessions queued before measuring (queue length)")
	fs.IntVar(&c.Streams, "streams", 1000, "fanout: open streams")
	fs.IntVar(&c.Changes, "changes", 100, "fanout: queue changes to make")
	fs.Float64Var(&c.ChangeRate, "change-rate", 10, "fanout: changes per second")
	fs.DurationVar(&c.Idle, "idle", 0, "fanout: hold the open streams idle this long before the changes, measuring the server's CPU and the heartbeats it sends")
	fs.StringVar(&c.Mix, "mix", "join=2,leave=1,admit=1", "fanout: weights of the kinds of change")
	fs.IntVar(&c.Queue, "queue", 20000, "admit: queue length before slots free")
	fs.IntVar(&c.Admit, "admit", 10000, "admit: slots freed at once (each admitted session has a stream)")
	fs.StringVar(&c.Event, "event", "", "event id (default bench-<scenario>-<time>)")
	fs.StringVar(&c.RedisAddr, "redis", "", "the server's Redis, to count commands per change (INFO commandstats)")
	fs.StringVar(&c.DebugAddr, "debug-addr", "127.0.0.1:6060", "the server's DEBUG_ADDR, whose /debug/stats gives its memory and CPU")
	fs.BoolVar(&c.Verify, "verify", true, "check every remaining session's position at the end")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed for the change mix")
	fs.DurationVar(&c.Settle, "settle", 30*time.Second, "fanout/admit: how long streams may take to reach the final state")
	fs.DurationVar(&c.CadenceSlack, "cadence-slack", time.Second, "fanout: how much later than the server's streaming cadence allows a stream may show a change (cadence.go)")
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Minute, "bound on the whole run")
	fs.StringVar(&c.SrcIPs, "src-ips", "", "comma-separated loopback source addresses to spread connections over")
	fs.StringVar(&c.AdminToken, "admin-token", getenv("WAITROOM_ADMIN_TOKEN"), "the server's WAITROOM_ADMIN_TOKEN")
	fs.StringVar(&c.JSONPath, "json", "", "write the report as JSON to this file")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c, c.check()
}

func (c *Config) check() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %v", c.Addr, err)
	}
	if !isLoopback(host) {
		return fmt.Errorf("-addr %q: load goes to loopback addresses only", c.Addr)
	}
	if c.RedisAddr != "" {
		h, _, err := net.SplitHostPort(c.RedisAddr)
		if err != nil || !isLoopback(h) {
			return fmt.Errorf("-redis %q: want a loopback host:port", c.RedisAddr)
		}
	}
	if c.DebugAddr != "" {
		h, _, err := net.SplitHostPort(c.DebugAddr)
		if err != nil || !isLoopback(h) {
			return fmt.Errorf("-debug-addr %q: want a loopback host:port", c.DebugAddr)
		}
	}
	for s := range strings.SplitSeq(c.SrcIPs, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("-src-ips: %q is not a loopback address", s)
		}
		c.srcIPs = append(c.srcIPs, ip)
	}
	if _, err := clientOptions(c.Protocol); err != nil {
		return err
	}
	switch {
	case c.Conns < 1, c.StreamsPerConn < 1, c.Concurrency < 1:
		return errors.New("-conns, -streams-per-conn and -c must be at least 1")
	case c.Timeout <= 0:
		return errors.New("-timeout must be positive")
	}
	switch c.Scenario {
	case "join":
		if c.Joins < 1 {
			return errors.New("-n must be at least 1")
		}
	case "fanout":
		if c.Streams < 1 || c.Changes < 0 || c.ChangeRate <= 0 {
			return errors.New("fanout: -streams >= 1, -changes >= 0 and -change-rate > 0")
		}
		if c.mix, err = parseMix(c.Mix); err != nil {
			return err
		}
	case "admit":
		if c.Admit < 1 || c.Queue < c.Admit {
			return errors.New("admit: want 1 <= -admit <= -queue")
		}
	default:
		return fmt.Errorf("-scenario %q: want join, fanout or admit", c.Scenario)
	}
	if c.Event == "" {
		c.Event = "bench-" + c.Scenario + "-" + strconv.FormatInt(time.Now().UnixMilli(), 36)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run runs the configured scenario; progress goes to log. The report is
// returned even when the run failed part way, with what was measured.
func Run(ctx context.Context, cfg *Config, log io.Writer) (*Report, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	rep := &Report{Config: *cfg, Started: time.Now()}
	r := &runner{cfg: cfg, rep: rep, prog: newProgress(log, cfg.Quiet)}
	defer r.prog.stop()
	if cfg.Scenario != "join" || cfg.Streams > 0 {
		need := uint64(cfg.Conns + max(cfg.Streams, cfg.Admit)/cfg.StreamsPerConn + 64)
		if lim, err := raiseFDLimit(need); err != nil {
			return rep, err
		} else {
			rep.FDLimit = lim
		}
	}
	if st, err := fetchStats(ctx, cfg.DebugAddr); err == nil {
		rep.Store = st.Store
	} else {
		fmt.Fprintf(log, "note: no /debug/stats from %q (%v): server cost is not measured; start the server with DEBUG_ADDR and pass it as -debug-addr\n", cfg.DebugAddr, err)
	}
	if cfg.RedisAddr != "" {
		rs, err := newRedisStats(cfg.RedisAddr)
		if err != nil {
			return rep, err
		}
		defer rs.close()
		r.redis = rs
	}
	var err error
	switch cfg.Scenario {
	case "join":
		err = r.join(ctx)
	case "fanout":
		err = r.fanout(ctx)
	case "admit":
		err = r.admit(ctx)
	}
	rep.Finished = time.Now()
	return rep, err
}

// runner holds what the scenarios share.
type runner struct {
	cfg   *Config
	rep   *Report
	prog  *progress
	redis *redisStats
	unary *pool
	polls atomic.Int64 // GetEvent calls made while waiting for admissions
}

func (r *runner) fail(format string, args ...any) {
	r.rep.Failures = append(r.rep.Failures, fmt.Sprintf(format, args...))
}

func (rep *Report) writeJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
