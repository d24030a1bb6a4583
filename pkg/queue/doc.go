// Package queue is the waiting room's domain: sessions, their exact places in an
// event's queue, admission to checkout ([Service] and its processor).
//
// It defines the interfaces it needs — [Store] for state, [TokenIssuer] for
// checkout tokens, [Streams] for the live fan-out of position changes to open
// streams — and imports no Redis, Kafka or JWT package. The fan-out lives in
// fanout, the embedded store in memstore, the Redis one in redisstore, and
// queuetest holds the contract suite both stores must pass.
package queue
