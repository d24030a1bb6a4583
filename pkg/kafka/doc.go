// Package events connects the waiting room to Kafka (github.com/twmb/franz-go).
//
// Produced: one record per state change of an event's queue, on the topics
// queue.joined, queue.left, queue.admitted, queue.expired and queue.completed
// (each behind an optional prefix). The value is a waitroom.v1.QueueEvent in
// protojson, the key the event id, and the headers carry the type, a
// deterministic id ("<event_id>:<seq>") and the content type.
//
// Nothing here runs on a user's request path. The store records every change
// in its outbox in the same atomic step as the change itself ([queue.Outbox]);
// a [Relay] claims outbox entries, produces them with the idempotent producer
// and acks from all in-sync replicas, and removes an entry only once the
// broker has acknowledged it. A broker outage therefore only grows the
// backlog, which drains when the broker returns; a relay that dies leaves its
// claimed entries to be taken over by another after the claim goes idle.
//
// Consumed: checkout.completed ([CheckoutConsumer]), which frees the slot of
// the session it names exactly like the CompleteCheckout RPC.
package kafka
