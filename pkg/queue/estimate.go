package queue

import (
	"sync"
	"time"
)

// rateWindow is how far back admissions count towards the admission rate.
const rateWindow = time.Minute

// admissionRate estimates an event's admissions per second from the admission
// changes seen over the last minute, to turn a position into a waiting time.
type admissionRate struct {
	mu      sync.Mutex
	samples []rateSample // oldest first
}

type rateSample struct {
	at time.Time
	n  int
}

func (r *admissionRate) add(at time.Time, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, rateSample{at, n})
	r.trim(at)
}

func (r *admissionRate) trim(now time.Time) {
	i := 0
	for i < len(r.samples) && now.Sub(r.samples[i].at) > rateWindow {
		i++
	}
	r.samples = append(r.samples[:0], r.samples[i:]...)
}

// perSecond is the recent admission rate, or 0 (unknown) until admissions
// over at least two processor ticks have been seen.
func (r *admissionRate) perSecond(now time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trim(now)
	if len(r.samples) < 2 {
		return 0
	}
	// Admissions after the first sample, over the time since it: the first
	// sample only marks where the window starts.
	span := max(now.Sub(r.samples[0].at), time.Second)
	n := 0
	for _, s := range r.samples[1:] {
		n += s.n
	}
	return float64(n) / span.Seconds()
}

// waitAt estimates the wait of the session at position, rounded up to whole
// seconds; 0 when the rate is unknown.
func waitAt(position int64, perSecond float64) time.Duration {
	if position <= 0 || perSecond <= 0 {
		return 0
	}
	d := time.Duration(float64(position) / perSecond * float64(time.Second))
	return (d + time.Second - 1).Truncate(time.Second)
}
