package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/internal/stats"
)

// fetchStats reads the server's /debug/stats document from its DEBUG_ADDR.
func fetchStats(ctx context.Context, addr string) (stats.Server, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if addr == "" {
		return stats.Server{}, errors.New("no -debug-addr")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/stats", nil)
	if err != nil {
		return stats.Server{}, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return stats.Server{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return stats.Server{}, fmt.Errorf("GET /debug/stats: %s", res.Status)
	}
	var s stats.Server
	return s, json.NewDecoder(res.Body).Decode(&s)
}

// StreamCost is the server's memory for the open streams, from the stats taken
// before the streams opened and once they were all open and idle.
type StreamCost struct {
	Streams             int64        `json:"streams"`
	TotalBytesPerStream float64      `json:"total_bytes_per_stream"`
	RSSBytesPerStream   float64      `json:"rss_bytes_per_stream"`
	HeapBytesPerStream  float64      `json:"heap_bytes_per_stream"`
	StackBytesPerStream float64      `json:"stack_bytes_per_stream"`
	GoroutinesPerStream float64      `json:"goroutines_per_stream"`
	Before              stats.Server `json:"before"`
	After               stats.Server `json:"after"`
}

func streamCost(before, after stats.Server) StreamCost {
	n := after.OpenStreams - before.OpenStreams
	c := StreamCost{Streams: n, Before: before, After: after}
	if n <= 0 {
		return c
	}
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	c.TotalBytesPerStream = per(before.TotalBytes, after.TotalBytes)
	c.RSSBytesPerStream = per(before.RSSBytes, after.RSSBytes)
	c.HeapBytesPerStream = per(before.HeapBytes, after.HeapBytes)
	c.StackBytesPerStream = per(before.StackBytes, after.StackBytes)
	c.GoroutinesPerStream = float64(after.Goroutines-before.Goroutines) / float64(n)
	return c
}

// redisStats reads INFO commandstats from the server's Redis.
type redisStats struct{ c rueidis.Client }

func newRedisStats(addr string) (*redisStats, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		return nil, fmt.Errorf("-redis %s: %w", addr, err)
	}
	return &redisStats{c: c}, nil
}

func (r *redisStats) close() { r.c.Close() }

// commandCounts maps each command to its calls so far, leaving out INFO
// (this tool's own reads).
func (r *redisStats) commandCounts(ctx context.Context) (map[string]int64, error) {
	s, err := r.c.Do(ctx, r.c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for line := range strings.Lines(s) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd || name == "info" {
			continue
		}
		for kv := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[name] = n
			}
		}
	}
	return out, nil
}

// RedisCost is the Redis work of one measured phase.
type RedisCost struct {
	Changes  int64            `json:"changes"`
	Seconds  float64          `json:"seconds"`
	Commands int64            `json:"commands"`
	PerCmd   map[string]int64 `json:"per_command"`
	// IdlePerSecond is the background rate (processor ticks, health pings,
	// resync checks) measured with no changes, subtracted for NetPerChange.
	IdlePerSecond float64 `json:"idle_per_second"`
	// ToolPolls are the tool's GetEvent calls waiting for admissions, each
	// costing PerPoll commands; they are subtracted for NetPerChange too.
	ToolPolls    int64   `json:"tool_polls,omitempty"`
	PerPoll      float64 `json:"commands_per_poll,omitempty"`
	PerChange    float64 `json:"per_change"`
	NetPerChange float64 `json:"net_per_change"`
}

func diffCounts(a, b map[string]int64) (map[string]int64, int64) {
	d := map[string]int64{}
	var total int64
	for k, v := range b {
		if x := v - a[k]; x != 0 {
			d[k] = x
			total += x
		}
	}
	return d, total
}

func (c RedisCost) String() string {
	keys := make([]string, 0, len(c.PerCmd))
	for k := range c.PerCmd {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, c.PerCmd[k])
	}
	return strings.TrimSpace(b.String())
}
