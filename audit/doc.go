// Package audit publishes Vigil's audit trail to Kafka: every evaluation,
// incident transition, retrain step, rollback and alias move becomes a
// CloudEvents 1.0 event in structured mode (one JSON document per record
// value, content type application/cloudevents+json), keyed by model so that
// Kafka keeps each model's events in order (one partition per key).
//
// Delivery goes through a durable outbox, so that neither a Kafka outage nor
// a worker killed at any point loses an event:
//
//  1. An activity derives the event's id from what identifies the step (its
//     workflow ID, run ID and activity ID, or the incident's ID) and writes
//     the event to the outbox, <storage.registry>/audit/outbox/<id>.json
//     (Outbox.Record). A retried activity derives the same id and finds the
//     event already there: one event per step. The activity never talks to
//     Kafka, so Kafka being down fails no activity.
//  2. The worker's Publisher drains the outbox in the order events were
//     recorded, with an idempotent producer (acks=all), and for each event
//     Kafka acknowledged writes audit/sent/<id> and deletes the outbox
//     object. While Kafka is down the events wait in the outbox.
//
// The guarantee is at-least-once with a stable id: a publisher that dies
// after Kafka acknowledged an event and before it marked it sent publishes
// it again at its next start, with the same id (CloudEvents' id: consumers
// drop an id they have seen). Sent markers are kept for SentRetention, so
// an activity retried within that time does not record its event again.
//
// May import: config, store, train/registry (a version's lineage),
// internal/kafkaconn (the Kafka client's connection options, shared with the
// ingest consumer) and franz-go; not
// activities, workflows or the Temporal SDK (activities import this package
// and derive ids from their own activity.Info).
package audit
