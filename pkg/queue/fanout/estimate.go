package fanout

import (
	"sync"
	"time"
)

// rateWindow is how far back admissions count towards the admission rate.
const rateWindow = time.Minute

// admissionRate estimates an event's admissions per second from the admission
// changes seen over the last minute, to turn a position into a waiting time.
type admissionRate struct {
	mu sync.Mutex
	// since is when this process started watching the event: admissions
	// before it were not seen, so the rate is measured from then at most.
	since   time.Time
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

// perSecond is the admission rate over the last minute (or since watching
// began, if that is shorter, but at least a second), or 0 (unknown) before
// any admission has been seen.
func (r *admissionRate) perSecond(now time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trim(now)
	n := 0
	for _, s := range r.samples {
		n += s.n
	}
	if n == 0 {
		return 0
	}
	span := max(min(now.Sub(r.since), rateWindow), time.Second)
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
