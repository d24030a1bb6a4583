package redisstore

import (
	_ "embed"

	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
)

// The events' live figures (queue.StatsStore). Every change script counts
// its change in the event's figures hash and waits list (tally, in
// lua/prelude.lua); replicas report their open streams into a hash of the
// event's own, one field per replica, with plain commands: per report, two
// commands per event that has streams on the replica, however many streams
// it has. Every key has the event's hash tag.
const (
	// statsKey is a hash: the totals, the first join (Unix ms) and the
	// admissions per second (fieldAdmitSlot + slot: "second:count").
	statsKey = "stats"
	// waitsKey is a list of the recent admissions' waits (ms), newest first.
	waitsKey = "waits"
	// streamsKey is a hash: replica id → "count:Unix ms" of its last
	// report. It expires StreamReportTTL after the last report of any
	// replica; readers ignore the fields older than that.
	streamsKey = "streams"

	fieldJoined    = "joined"
	fieldAdmitted  = "admitted"
	fieldCompleted = "completed"
	fieldExpired   = "expired"
	fieldLeft      = "left"
	fieldSince     = "since"
	fieldAdmitSlot = "a"
)

// statsShared are the names the scripts share with Go for the figures.
var statsShared = []struct{ lua, value string }{
	{"KEY_STATS", statsKey},
	{"KEY_WAITS", waitsKey},
	{"KEY_STREAMS", streamsKey},
	{"FIELD_JOINED", fieldJoined},
	{"FIELD_ADMITTED", fieldAdmitted},
	{"FIELD_COMPLETED", fieldCompleted},
	{"FIELD_EXPIRED", fieldExpired},
	{"FIELD_LEFT", fieldLeft},
	{"FIELD_SINCE", fieldSince},
	{"FIELD_ADMIT_SLOT", fieldAdmitSlot},
	{"RATE_WINDOW", strconv.Itoa(queue.RateWindow)},
	{"MAX_WAITS", strconv.Itoa(queue.MaxWaitSamples)},
}

//go:embed lua/figures.lua
var figuresLua string

// figuresScript reads; it can never write.
var figuresScript = rueidis.NewLuaScriptReadOnly(prelude + figuresLua)

// Figures implements queue.StatsStore: one read-only script.
func (s *Store) Figures(ctx context.Context, eventID string) (queue.FigureRecord, error) {
	k := eventKeys(eventID)
	cctx, cancel := s.call(ctx)
	defer cancel()
	r, err := figuresScript.Exec(cctx, s.client, k.list, s.args(k, eventID, time.Time{})).ToArray()
	if err != nil {
		return queue.FigureRecord{}, failed(ctx, err)
	}
	if len(r) == 0 {
		return queue.FigureRecord{}, queue.ErrEventNotFound
	}
	if len(r) != 7 {
		return queue.FigureRecord{}, fmt.Errorf("redisstore: figures of %s: %d parts, want 7", eventID, len(r))
	}
	var out queue.FigureRecord
	settings, err1 := r[0].AsStrMap()
	e, _, err2 := eventOf(eventID, settings)
	out.Event = e
	ql, err3 := r[1].AsInt64()
	pr, err4 := r[2].AsInt64()
	seq, err5 := r[3].AsInt64()
	stats, err6 := r[4].AsStrMap()
	waits, err7 := r[5].AsIntSlice()
	streams, err8 := r[6].AsStrMap()
	for _, err := range []error{err1, err2, err3, err4, err5, err6, err7, err8} {
		if err != nil {
			return queue.FigureRecord{}, fmt.Errorf("redisstore: figures of %s: %w", eventID, err)
		}
	}
	out.Stats = queue.EventStats{QueueLength: ql, Processing: pr, Seq: uint64(seq)}
	decodeFigures(&out, stats)
	for _, w := range waits {
		out.Waits = append(out.Waits, time.Duration(w)*time.Millisecond)
	}
	for replica, v := range streams {
		if rep, ok := decodeReport(replica, v); ok {
			out.Streams = append(out.Streams, rep)
		}
	}
	return out, nil
}

// decodeFigures reads the figures hash into r; a malformed field reads as
// nothing rather than failing every watch of the event.
func decodeFigures(r *queue.FigureRecord, m map[string]string) {
	num := func(f string) int64 { n, _ := strconv.ParseInt(m[f], 10, 64); return n }
	r.Totals = queue.Totals{Joined: num(fieldJoined), Admitted: num(fieldAdmitted), Completed: num(fieldCompleted),
		Expired: num(fieldExpired), Left: num(fieldLeft)}
	if since := num(fieldSince); since != 0 {
		r.Since = time.UnixMilli(since).UTC()
	}
	for i := range r.Admits {
		sec, n, ok := strings.Cut(m[fieldAdmitSlot+strconv.Itoa(i)], ":")
		if !ok {
			continue
		}
		s, err1 := strconv.ParseInt(sec, 10, 64)
		c, err2 := strconv.ParseInt(n, 10, 64)
		if err1 == nil && err2 == nil {
			r.Admits[i] = queue.AdmitSlot{Sec: s, N: c}
		}
	}
}

func decodeReport(replica, v string) (queue.StreamReport, bool) {
	count, at, ok := strings.Cut(v, ":")
	n, err1 := strconv.ParseInt(count, 10, 64)
	t, err2 := strconv.ParseInt(at, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return queue.StreamReport{}, false
	}
	return queue.StreamReport{Replica: replica, Count: n, At: time.UnixMilli(t).UTC()}, true
}

// ReportStreams implements queue.StatsStore: one round trip of plain
// commands, per event an HSET of the replica's field and a PEXPIRE of the
// hash (or an HDEL for a withdrawal), whatever the number of streams.
func (s *Store) ReportStreams(ctx context.Context, replica string, counts map[string]int64, now time.Time) error {
	if len(counts) == 0 {
		return nil
	}
	c := s.client
	cmds := make(rueidis.Commands, 0, 2*len(counts))
	value := func(n int64) string { return strconv.FormatInt(n, 10) + ":" + ms(now) }
	for ev, n := range counts {
		key := prefix(ev) + streamsKey
		if n <= 0 {
			cmds = append(cmds, c.B().Hdel().Key(key).Field(replica).Build())
			continue
		}
		cmds = append(cmds, c.B().Hset().Key(key).FieldValue().FieldValue(replica, value(n)).Build(),
			c.B().Pexpire().Key(key).Milliseconds(queue.StreamReportTTL.Milliseconds()).Build())
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	for _, r := range c.DoMulti(cctx, cmds...) {
		if err := r.Error(); err != nil {
			return failed(ctx, err)
		}
	}
	return nil
}
