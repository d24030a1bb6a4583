package main

import (
	"fmt"
	"slices"
	"time"
)

// lateBands are the distance bands late pairs are counted by: the position
// the stream showed before the late message.
var lateBands = []struct {
	name string
	upTo int32
}{{"<=1k", 1000}, {"1k-2k", 2000}, {"2k-3k", 3000}, {"3k-5k", 5000}, {"5k-10k", 10000}, {">10k", 1<<31 - 1}}

// lateBreakdown sorts the late pairs by the second (from start) they
// arrived in and by band, and counts those the CPU waits account for: the
// server's and this tool's run-queue time over the pair's window (from the
// change to the message) at least the time it was late by. Called with
// cc.mu held.
func (cc *cadenceCheck) lateBreakdown(start time.Time) ([]LateSecond, map[string]int64, int64) {
	if len(cc.late) == 0 {
		return nil, nil, 0
	}
	bands := map[string]int64{}
	bySec := map[int]*LateSecond{}
	var desched int64
	for _, p := range cc.late {
		for _, b := range lateBands {
			if p.shown <= b.upTo {
				bands[b.name]++
				break
			}
		}
		sec := int(p.at.Sub(start) / time.Second)
		ls := bySec[sec]
		if ls == nil {
			ls = &LateSecond{Second: sec, MinShown: p.shown, MaxShown: p.shown}
			bySec[sec] = ls
		}
		w := cc.waits.within(p.ack, p.at)
		ls.Pairs++
		if w.known && w.serverWait+w.toolWait >= p.excess {
			ls.Descheduled++
			desched++
		}
		ls.MaxExcessMS = max(ls.MaxExcessMS, ms(p.excess))
		ls.ServerWaitMS = max(ls.ServerWaitMS, ms(w.serverWait))
		ls.ToolWaitMS = max(ls.ToolWaitMS, ms(w.toolWait))
		ls.ServerBusy = max(ls.ServerBusy, w.serverBusy)
		ls.SendsStalled = max(ls.SendsStalled, w.stalled)
		ls.MinShown, ls.MaxShown = min(ls.MinShown, p.shown), max(ls.MaxShown, p.shown)
	}
	secs := make([]LateSecond, 0, len(bySec))
	for _, ls := range bySec {
		secs = append(secs, *ls)
	}
	slices.SortFunc(secs, func(a, b LateSecond) int { return a.Second - b.Second })
	return secs, bands, desched
}

// printLate adds the late pairs' breakdown to the report: the ten seconds
// with the most.
func printLate(cr *CadenceResult, row func(string, string, ...any)) {
	if cr.Misses == 0 {
		return
	}
	row("  late pairs", "%d while the server and this tool waited for a CPU at least as long as the pair was late; %d not",
		cr.Descheduled, cr.Misses-cr.Descheduled)
	var bands []string
	for _, b := range lateBands {
		if n := cr.LateBands[b.name]; n > 0 {
			bands = append(bands, fmt.Sprintf("%s %d", b.name, n))
		}
	}
	row("  late by position shown", "%v", bands)
	top := slices.Clone(cr.Late)
	slices.SortStableFunc(top, func(a, b LateSecond) int { return int(b.Pairs - a.Pairs) })
	top = top[:min(len(top), 10)]
	slices.SortFunc(top, func(a, b LateSecond) int { return a.Second - b.Second })
	for _, s := range top {
		row(fmt.Sprintf("    second %d", s.Second), "%d late (%d descheduled) at %d-%d, up to %.0fms past; waits up to server %.0fms, tool %.0fms; server busy %.0f%%; %d stalled",
			s.Pairs, s.Descheduled, s.MinShown, s.MaxShown, s.MaxExcessMS, s.ServerWaitMS, s.ToolWaitMS, 100*s.ServerBusy, s.SendsStalled)
	}
}
