package redistest

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of masters without replicas, owned by a test.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts masters cluster-enabled redis-server processes (at least
// 3, as redis-cli requires), joins them with redis-cli --cluster create and
// waits until every node reports cluster_state:ok and knows every other node.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	requireBinary(tb, "redis-server")
	requireBinary(tb, "redis-cli")
	if masters < 3 {
		tb.Fatalf("redistest: a cluster needs at least 3 masters, not %d", masters)
	}
	c := &Cluster{}
	for range masters {
		c.Nodes = append(c.Nodes, Start(tb, clusterNode(), WithArgs(
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
		)))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitReady(tb, masters)
	return c
}

// Addrs are the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

func (c *Cluster) waitReady(tb testing.TB, masters int) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for _, n := range c.Nodes {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			info, err := n.Do(ctx, "CLUSTER", "INFO").ToString()
			cancel()
			if err == nil && clusterReady(verbatim(info), masters) {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: cluster node %s not ready: %v\n%s", n.Addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func clusterReady(info string, masters int) bool {
	var ok, known bool
	for line := range strings.Lines(info) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch k {
		case "cluster_state":
			ok = v == "ok"
		case "cluster_known_nodes":
			n, _ := strconv.Atoi(v)
			known = n == masters
		}
	}
	return ok && known
}

// clusterNode makes Start pick a port whose cluster bus port (+10000) is free.
func clusterNode() Option { return func(c *config) { c.cluster = true } }
