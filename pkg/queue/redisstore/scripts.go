package redisstore

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
)

// Every state change is one of these scripts: atomic on the event's slot,
// numbered with the event's seq, published (and recorded in the outbox) from
// inside the script. Each one is safe to retry after a timeout: a repeated
// call finds the state already changed and answers without changing it again
// (a repeated Admit or Expire just admits or expires whoever is due then).
// rueidis retries them on connection errors within the call's deadline.

// shared are the names the scripts share with Go: each is written once, in
// Go, and declared as a Lua local at the top of every script that changes or
// reads an event (lua/prelude.lua follows them).
var shared = []struct{ lua, value string }{
	{"CHANNEL_PREFIX", channelPrefix},
	{"KEY_SESSION", sessionKeyPrefix},
	{"KEY_USER", userKeyPrefix},
	{"FLAG_OUTBOX", flagOutbox},
	{"FLAG_CLUSTER", flagCluster},
	{"OUTBOX_FIELD", outboxField},
	{"KEY_PRESENT", presentKey},
	{"KEY_HELD", heldKey},
	{"KEY_BACK", backKey},
	{"KEY_CURSOR", cursorKey},
	{"REASON_QUEUE_TTL", queue.ExpiredQueueTTL.String()},
	{"REASON_CHECKOUT_WINDOW", queue.ExpiredCheckoutWindow.String()},
	{"REASON_ABSENT", queue.ExpiredAbsent.String()},
	{"REASON_EVENT_DELETED", queue.ExpiredEventDeleted.String()},
	{"KEY_RATE", rateKey},
	{"KEY_PREQUEUE", preQueueKey},
	{"KEY_LANE", laneKeyPrefix},
	{"FIELD_LANES", fieldLanes},
	{"FIELD_RR", fieldRR},
	{"REPLY_BAD_LANE", replyBadLane},
	{"REPLY_LANES_IN_USE", replyLanesInUse},

	{"FIELD_ID", fieldID},
	{"FIELD_STATE", fieldState},
	{"FIELD_MAX_CONCURRENT", fieldMaxConcurrent},
	{"FIELD_CHECKOUT_WINDOW", fieldCheckoutWindow},
	{"FIELD_CHECKOUT_URL", fieldCheckoutURL},
	{"FIELD_AUTO", fieldAuto},
	{"FIELD_IDLE_SEQ", fieldIdleSeq},
	{"FIELD_IDLE_AT", fieldIdleAt},
	{"FIELD_FS_SALE", fieldFSSale},
	{"FIELD_FS_SEED", fieldFSSeed},
	{"FIELD_FS_AFTER", fieldFSAfter},
	{"FIELD_FS_LAST", fieldFSLast},
	{"FIELD_FS_PLACED_AT", fieldFSPlacedAt},
	{"FIELD_FS_PLACED_SEQ", fieldFSPlacedSeq},
	{"FIELD_FS_PLACED", fieldFSPlaced},
	{"FIELD_RATE", fieldRate},
	{"STATE_ACTIVE", queue.EventActive.String()},
	{"STATE_PAUSED", queue.EventPaused.String()},
	{"STATE_CLOSED", queue.EventClosed.String()},

	{"STATUS_QUEUED", queue.StatusQueued.String()},
	{"STATUS_READY", queue.StatusReady.String()},
	{"STATUS_COMPLETED", queue.StatusCompleted.String()},
	{"STATUS_EXPIRED", queue.StatusExpired.String()},
	{"STATUS_LEFT", queue.StatusLeft.String()},

	{"CHANGE_JOINED", queue.ChangeJoined.String()},
	{"CHANGE_LEFT", queue.ChangeLeft.String()},
	{"CHANGE_ADMITTED", queue.ChangeAdmitted.String()},
	{"CHANGE_COMPLETED", queue.ChangeCompleted.String()},
	{"CHANGE_EXPIRED", queue.ChangeExpired.String()},
	{"CHANGE_PLACED", queue.ChangePlaced.String()},

	{"REPLY_CREATED", replyCreated},
	{"REPLY_EXISTING", replyExisting},
	{"REPLY_CLOSED", replyClosed},
	{"REPLY_CONFLICT", replyConflict},
	{"REPLY_OK", replyOK},
	{"REPLY_STATUS", replyStatus},
	{"REPLY_LATE", replyLate},
	{"REPLY_NOT_FOUND", replyNotFound},
	{"IDLE_GONE", idleGone},
	{"IDLE_KEPT", idleKept},
	{"IDLE_WAITING", idleWaiting},
	{"IDLE_FORGOTTEN", idleForgotten},
	{"PLACE_DONE", placeDone},
	{"PLACE_NOT_DUE", placeNotDue},
	{"PLACE_STALE", placeStale},
	{"REPLY_LIVE", replyLive},
}

// declareShared is the Lua that declares shared.
func declareShared() string {
	var b strings.Builder
	b.WriteString("-- Declared from Go (scripts.go).\n")
	for _, c := range slices.Concat(shared, statsShared) {
		fmt.Fprintf(&b, "local %s = %s\n", c.lua, luaString(c.value))
	}
	return b.String()
}

// luaString quotes s as a Lua string literal. Redis runs Lua 5.1, which has
// no \x escapes: other bytes are written as decimal \ddd.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := range len(s) {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

//go:embed lua/prelude.lua
var preludeLua string

//go:embed lua/lanes.lua
var lanesLua string

// prelude starts every script that changes or reads an event.
var prelude = declareShared() + preludeLua + lanesLua

var (
	//go:embed lua/join.lua
	joinLua string
	//go:embed lua/session.lua
	sessionLua string
	//go:embed lua/leave.lua
	leaveLua string
	//go:embed lua/complete.lua
	completeLua string
	//go:embed lua/admit.lua
	admitLua string
	//go:embed lua/admit_common.lua
	admitCommonLua string
	//go:embed lua/expire.lua
	expireLua string
	//go:embed lua/put_event.lua
	putEventLua string
	//go:embed lua/snapshot.lua
	snapshotLua string
	//go:embed lua/ack.lua
	ackLua string
	//go:embed lua/claim.lua
	claimLua string
	//go:embed lua/idle.lua
	idleLua string
	//go:embed lua/presence.lua
	presenceLua string
	//go:embed lua/place.lua
	placeLua string
	//go:embed lua/merge_fair_start.lua
	mergeFairStartLua string
	//go:embed lua/update_event.lua
	updateEventLua string
	//go:embed lua/delete_event.lua
	deleteEventLua string
	//go:embed lua/rate.lua
	rateLua string
)

var (
	// The client may re-send these after a connection error: a repeated
	// join answers with the session the first run made, a repeated leave or
	// complete recognises its own request id, and admit, expire and
	// put-event are safe to run twice.
	joinScript     = rueidis.NewLuaScriptRetryable(prelude + joinLua)
	leaveScript    = rueidis.NewLuaScriptRetryable(prelude + leaveLua)
	completeScript = rueidis.NewLuaScriptRetryable(prelude + completeLua)
	admitScript    = rueidis.NewLuaScriptRetryable(prelude + rateLua + admitCommonLua + admitLua)
	expireScript   = rueidis.NewLuaScriptRetryable(prelude + expireLua)
	putEventScript = rueidis.NewLuaScriptRetryable(prelude + mergeFairStartLua + putEventLua)
	// A repeated update sets the same fields to the same values; a
	// repeated deletion step ends whoever is still live, or finds the
	// event gone (queue.Service.DeleteEvent takes that as done).
	updateEventScript = rueidis.NewLuaScriptRetryable(prelude + mergeFairStartLua + updateEventLua)
	deleteEventScript = rueidis.NewLuaScriptRetryable(prelude + deleteEventLua)
	// A repeated look or forget finds the same state, or the event gone.
	idleScript = rueidis.NewLuaScriptRetryable(prelude + idleLua)
	// A repeated presence mark marks the same sessions until the same time.
	presenceScript = rueidis.NewLuaScriptRetryable(prelude + presenceLua)
	// A repeated placement finds the pre-queue placed and changes nothing.
	placeScript = rueidis.NewLuaScriptRetryable(prelude + placeLua)
	// The outbox's claim and acknowledgement; they change no queue state and
	// share no names with Go. A repeated claim returns what the first one
	// claimed (as the consumer's own entries).
	ackScript   = rueidis.NewLuaScriptRetryable(ackLua)
	claimScript = rueidis.NewLuaScriptRetryable(claimLua)

	// Reads run as EVALSHA_RO: they can never write, and a cluster could
	// serve them from replicas.
	sessionScript  = rueidis.NewLuaScriptReadOnly(prelude + sessionLua)
	snapshotScript = rueidis.NewLuaScriptReadOnly(prelude + snapshotLua)
)
