package redisstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
)

// Priority lanes (queue/lane.go) on Redis. The scripts keep them
// (lua/lanes.lua): the lanes in the event's hash, one sorted set of waiting
// tickets per lane under the event's tag ("waitroom:{<event>}:lane:<name>"),
// and the round-robin's state in the event's hash, drawn in the admit
// script. Positions are computed here, from what a session reply carries
// (the lanes, the state, the lanes' counts and the session's rank in its
// lane), with the same lanes.Plan every store uses.

const (
	laneKeyPrefix   = "lane:"
	fieldLanes      = "lanes"
	fieldRR         = "rr"
	replyBadLane    = "bad_lane"
	replyLanesInUse = "lanes_in_use"
)

// formatLanes is how the event's hash holds lanes: "name:weight,…".
func formatLanes(ls []lanes.Lane) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Name + ":" + strconv.FormatInt(l.Weight, 10)
	}
	return strings.Join(parts, ",")
}

// parseLanes is the inverse of formatLanes.
func parseLanes(raw string) ([]lanes.Lane, error) {
	if raw == "" {
		return nil, nil
	}
	var out []lanes.Lane
	for _, part := range strings.Split(raw, ",") {
		name, w, ok := strings.Cut(part, ":")
		weight, err := strconv.ParseInt(w, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("redisstore: malformed lanes %q", raw)
		}
		out = append(out, lanes.Lane{Name: name, Weight: weight})
	}
	return out, nil
}

// parseRR reads the round-robin's state, "<set>|<current>,…"; a missing or
// malformed one is the zero state.
func parseRR(raw string) lanes.State {
	set, list, ok := strings.Cut(raw, "|")
	n, err := strconv.ParseUint(set, 10, 32)
	if !ok || err != nil {
		return lanes.State{}
	}
	st := lanes.State{For: lanes.Set(n)}
	for _, c := range strings.Split(list, ",") {
		v, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			return lanes.State{}
		}
		st.Current = append(st.Current, v)
	}
	return st
}

// laneState is what changes and snapshots carry; nil without lanes.
func laneState(lanesRaw, rrRaw string) *queue.LaneState {
	ls, err := parseLanes(lanesRaw)
	if err != nil || len(ls) == 0 {
		return nil
	}
	return &queue.LaneState{Lanes: ls, RR: parseRR(rrRaw)}
}

// lanePosition reads a session reply's lanes part ({lanes, rr, counts,
// rank in lane}) and returns the session's place in the admission order;
// ok is false when the reply has none (no lanes, or not queued).
func lanePosition(r []rueidis.RedisMessage, lane string) (int64, bool) {
	if len(r) != 4 {
		return 0, false
	}
	lanesRaw, _ := r[0].ToString()
	rrRaw, _ := r[1].ToString()
	countsRaw, _ := r[2].ToString()
	rank, _ := r[3].AsInt64()
	ls := laneState(lanesRaw, rrRaw)
	if ls == nil || rank < 0 {
		return 0, false
	}
	var counts []int64
	for _, c := range strings.Split(countsRaw, ",") {
		v, _ := strconv.ParseInt(c, 10, 64)
		counts = append(counts, v)
	}
	j, ok := lanes.Index(ls.Lanes, lane)
	if !ok || len(counts) != len(ls.Lanes) {
		return 0, false
	}
	return ls.Plan(counts).Position(j, rank), true
}
