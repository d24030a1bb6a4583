package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a log-linear latency histogram in microseconds: 32 sub-buckets per
// power of two, so any reported quantile is within about 3% of the true value.
// It is safe for concurrent use and costs one atomic add per sample.
type hist struct {
	counts [64 * subBuckets]atomic.Int64
	n      atomic.Int64
	max    atomic.Int64
	sum    atomic.Int64
}

const subBits = 5
const subBuckets = 1 << subBits

func bucketOf(us int64) int {
	if us < subBuckets {
		return int(us)
	}
	e := bits.Len64(uint64(us)) - subBits // >= 1
	return e*subBuckets + int(us>>(e-1)) - subBuckets
}

// lowOf is the smallest value that falls in bucket b.
func lowOf(b int) int64 {
	if b < subBuckets {
		return int64(b)
	}
	e := b / subBuckets
	return int64(b%subBuckets+subBuckets) << (e - 1)
}

func (h *hist) add(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h.counts[bucketOf(us)].Add(1)
	h.n.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// quantile returns the q-quantile (0 < q <= 1), reported as the upper edge of
// its bucket so that it never understates.
func (h *hist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	want := int64(q*float64(n) + 0.5)
	want = max(want, 1)
	var seen int64
	for b := range h.counts {
		seen += h.counts[b].Load()
		if seen >= want {
			hi := lowOf(b+1) - 1
			return time.Duration(min(hi, h.max.Load())) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load()) * time.Microsecond
}

// Latency is a histogram's summary, as printed and written to JSON.
type Latency struct {
	Count  int64   `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (h *hist) summary() Latency {
	n := h.n.Load()
	l := Latency{Count: n}
	if n == 0 {
		return l
	}
	l.MeanMS = float64(h.sum.Load()) / float64(n) / 1000
	l.P50MS = ms(h.quantile(0.50))
	l.P90MS = ms(h.quantile(0.90))
	l.P99MS = ms(h.quantile(0.99))
	l.MaxMS = float64(h.max.Load()) / 1000
	return l
}
