// Package queue is the waiting room's domain: sessions, their exact places in an
// event's queue, admission to checkout and the live fan-out of position changes
// to open streams.
//
// It defines the interfaces it needs — [Store] for state, [TokenIssuer] for
// checkout tokens — and imports no Redis, Kafka or JWT package. The embedded
// store lives in memstore, the Redis one in redisstore, and queuetest holds the
// contract suite both must pass.
package queue
