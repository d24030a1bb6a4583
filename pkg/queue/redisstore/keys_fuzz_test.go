package redisstore

import (
	"strings"
	"testing"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
)

// FuzzEventKeysShareOneTag checks the key builder against Redis Cluster's
// hash-tag rule for every id the service accepts: each key an event's
// script gets, its sessions' and users' keys included, has "{event}" as its
// first hash tag, so no id can put a key in another event's slot or make a
// script touch two slots. A session id's event is the one the store derives
// from it, as Session, Leave and Complete do. So does every lane's key, for
// any lane name the service accepts.
func FuzzEventKeysShareOneTag(f *testing.F) {
	for _, seed := range []struct{ event, session, user, lane string }{
		{"concert-2024", "concert-2024~0123456789abcdefghjkmnpqrs", "user-1", "vip"},
		{"a", "a~zzzzzzzzzzzzzzzzzzzzzzzzzz", "a:b@c", "general"},
		{"x}", "x}~0123456789abcdefghjkmnpqrs", "{x}", "b-2_c"},
		{"{x", "{x~0123456789abcdefghjkmnpqrs", "}", "x"},
		{"{}", "x~y~0123456789abcdefghjkmnpqrs", "u", "}"},
	} {
		f.Add(seed.event, seed.session, seed.user, seed.lane)
	}
	f.Fuzz(func(t *testing.T, eventID, sessionID, userID, lane string) {
		if queue.ValidateEventID(eventID) == nil {
			oneTag(t, eventID, eventKeys(eventID))
			if lanes.Validate([]lanes.Lane{{Name: lane, Weight: 1}}) == nil {
				oneTag(t, eventID, eventKeys(eventID, laneKeyPrefix+lane))
			}
		}
		if queue.ValidateSessionID(sessionID) != nil {
			return
		}
		ev := queue.EventOfSession(sessionID)
		extra := []string{sessionKeyPrefix + sessionID}
		if queue.ValidateUserID(userID) == nil {
			extra = append(extra, userKeyPrefix+userID)
		}
		oneTag(t, ev, eventKeys(ev, extra...))
	})
}

func oneTag(t *testing.T, ev string, k keys) {
	t.Helper()
	p := prefix(ev)
	for _, key := range append(k.list, k.prefix+"any", p+outboxKey, p+statsKey, p+waitsKey, p+streamsKey) {
		if tag, ok := hashTag(key); !ok || tag != ev {
			t.Fatalf("key %q of event %q hashes on %q (tagged %v)", key, ev, tag, ok)
		}
	}
}

// hashTag is the part of key Redis Cluster hashes: what lies between the
// first "{" and the first "}" after it, if that is not empty.
func hashTag(key string) (string, bool) {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return "", false
	}
	n := strings.IndexByte(key[open+1:], '}')
	if n <= 0 {
		return "", false
	}
	return key[open+1 : open+1+n], true
}
