package server

import (
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// TestConfigPresence: QUEUE_PRESENCE_GRACE=0 turns presence-aware
// admission off; other values are durations of at least the floor.
func TestConfigPresence(t *testing.T) {
	for _, c := range []struct {
		grace, absent string
		wantGrace     time.Duration
		wantAbsent    time.Duration
		wantErr       bool
	}{
		{grace: "0", wantGrace: -1},
		{grace: "0s", wantGrace: -1},
		{grace: "90s", absent: "5m", wantGrace: 90 * time.Second, wantAbsent: 5 * time.Minute},
		{grace: "1s", wantErr: true},
		{grace: "-2m", wantErr: true},
		{absent: "0s", wantErr: true},
	} {
		env := map[string]string{"QUEUE_PRESENCE_GRACE": c.grace, "QUEUE_ABSENT_TTL": c.absent}
		cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
		if c.wantErr {
			if err == nil {
				t.Errorf("%v: accepted", env)
			}
			continue
		}
		if err != nil || cfg.Queue.PresenceGrace != c.wantGrace || cfg.Queue.AbsentTTL != c.wantAbsent {
			t.Errorf("%v: grace %v, absent TTL %v, %v", env, cfg.Queue.PresenceGrace, cfg.Queue.AbsentTTL, err)
		}
	}
	svc := queue.NewService(nil, nil, nil, queue.Config{PresenceGrace: -1})
	if svc.PresenceOn() {
		t.Error("QUEUE_PRESENCE_GRACE=0 left presence on")
	}
	if !queue.NewService(nil, nil, nil, queue.Config{}).PresenceOn() {
		t.Error("presence is off by default")
	}
	if queue.DefaultPresenceGrace != 2*time.Minute || queue.DefaultAbsentTTL != 15*time.Minute {
		t.Error("the presence defaults differ from the README's")
	}
}
