package redisstore

import (
	_ "embed"

	"github.com/redis/rueidis"
)

// Every state change is one of these scripts: atomic on the event's slot,
// numbered with the event's seq, published (and recorded in the outbox) from
// inside the script. Each one is safe to retry after a timeout: a repeated
// call finds the state already changed and answers without changing it again
// (a repeated Admit or Expire just admits or expires whoever is due then).
// rueidis retries them on connection errors within the call's deadline.

//go:embed lua/prelude.lua
var prelude string

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
)

var (
	// The client may re-send these after a connection error: a repeated
	// join answers with the session the first run made, a repeated leave or
	// complete recognises its own request id, and admit, expire and
	// put-event are safe to run twice.
	joinScript     = rueidis.NewLuaScriptRetryable(prelude + joinLua)
	leaveScript    = rueidis.NewLuaScriptRetryable(prelude + leaveLua)
	completeScript = rueidis.NewLuaScriptRetryable(prelude + completeLua)
	admitScript    = rueidis.NewLuaScriptRetryable(prelude + admitLua)
	expireScript   = rueidis.NewLuaScriptRetryable(prelude + expireLua)
	putEventScript = rueidis.NewLuaScriptRetryable(prelude + putEventLua)
	// The outbox's claim and acknowledgement; they change no queue state. A
	// repeated claim returns what the first one claimed (as the consumer's
	// own entries).
	ackScript   = rueidis.NewLuaScriptRetryable(ackLua)
	claimScript = rueidis.NewLuaScriptRetryable(claimLua)

	// Reads run as EVALSHA_RO: they can never write, and a cluster could
	// serve them from replicas.
	sessionScript  = rueidis.NewLuaScriptReadOnly(prelude + sessionLua)
	snapshotScript = rueidis.NewLuaScriptReadOnly(prelude + snapshotLua)
)
