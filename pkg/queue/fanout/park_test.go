package fanout

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestWheel parks and unparks random watchers against a plain list of
// where each should be: a flush's walk list holds exactly the watchers not
// parked and those whose slots came due, removal from anywhere keeps every
// index right, and heldSince finds the first change a parked watcher
// missed.
func TestWheel(t *testing.T) {
	var c cadenceCounts
	k := newWheel(time.Second, &c)
	rng := rand.New(rand.NewPCG(1, 2))
	ws := make([]*Watcher, 300)
	listed := map[*Watcher]bool{}
	for i := range ws {
		ws[i] = &Watcher{}
		k.add(ws[i])
		listed[ws[i]] = true
	}
	now := int64(time.Hour)
	check := func() {
		t.Helper()
		seen := map[*Watcher]bool{}
		for i, w := range k.walk {
			if w.parkKey != 0 || w.parkIdx != i {
				t.Fatalf("walk[%d] says key %d index %d", i, w.parkKey, w.parkIdx)
			}
			seen[w] = true
		}
		var parked int64
		for key, s := range k.slots {
			if len(s.ws) == 0 {
				t.Fatalf("slot %d kept empty", key)
			}
			for i, w := range s.ws {
				if w.parkKey != key || w.parkIdx != i || seen[w] {
					t.Fatalf("slot %d[%d] says key %d index %d (seen %t)", key, i, w.parkKey, w.parkIdx, seen[w])
				}
				if w.nextPosAt > key*k.span || w.nextPosAt <= (key-1)*k.span {
					t.Fatalf("due at %d, parked in slot %d ending %d", w.nextPosAt, key, key*k.span)
				}
				seen[w] = true
				parked++
			}
		}
		if len(seen) != len(listed) || c.parked.Load() != parked {
			t.Fatalf("%d listed, want %d; gauge %d, parked %d", len(seen), len(listed), c.parked.Load(), parked)
		}
	}
	for round := range 200 {
		changedAt := int64(0)
		if round%3 != 0 {
			changedAt = now - int64(round)
		}
		k.begin(now, changedAt)
		for _, s := range k.slots {
			if s.ws[0].parkKey*k.span <= now {
				t.Fatalf("a slot ending %d is still parked at %d", s.ws[0].parkKey*k.span, now)
			}
		}
		for i := len(k.walk) - 1; i >= 0; i-- {
			w := k.walk[i]
			switch rng.IntN(4) {
			case 0, 1:
				w.nextPosAt = now + rng.Int64N(int64(time.Second))
				w.heldAt = 0
				k.park(w)
			case 2:
				if rng.IntN(10) == 0 {
					k.remove(w)
					delete(listed, w)
				}
			}
		}
		for w := range listed {
			if w.parkKey != 0 && rng.IntN(50) == 0 {
				k.wake(w)
			}
		}
		check()
		now += int64(37 * time.Millisecond)
	}

	// The first change after a watcher's parking is what it missed.
	k = newWheel(time.Second, &c)
	w := &Watcher{}
	k.add(w)
	k.begin(100, 50) // flush 1 shows a change made at 50
	w.nextPosAt = 500
	k.park(w) // parked at flush 1: it saw that change
	k.begin(200, 0)
	k.begin(300, 250)
	k.begin(400, 350)
	if !k.missed(w) {
		t.Fatal("a watcher parked before two changes missed none")
	}
	k.begin(int64(time.Second), 0)
	if w.parkKey != 0 || w.heldAt != 250 {
		t.Fatalf("after its slot came due: key %d, heldAt %d; want the walk list and 250", w.parkKey, w.heldAt)
	}
	if len(k.marks) != 0 {
		t.Fatalf("%d marks kept with nothing parked", len(k.marks))
	}

	// A slot that comes due in the flush showing a change: the flush shows
	// the change to its streams, so they missed nothing (held back, the
	// cadence would send it at once rather than at each stream's phase).
	w.nextPosAt, w.heldAt = 2*int64(time.Second), 0 // sent its state
	k.park(w)
	k.begin(3*int64(time.Second), 3*int64(time.Second)-10)
	if w.parkKey != 0 || w.heldAt != 0 {
		t.Fatalf("unparked by the flush of a change: key %d, heldAt %d; want the walk list and 0", w.parkKey, w.heldAt)
	}
}
