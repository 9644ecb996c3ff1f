// Package kafka consumes a model's inference records or ground truth from a
// Kafka topic into the same store, with the same validation and the same hour
// partitions, as the ingest API (store/ingest).
//
// No loss and no duplicates, with a worker that may die anywhere: offsets are
// committed only after a batch is stored, and the store itself records how
// far each partition is stored, so a batch that was stored but not committed
// is not stored again. Per partition, the consumer keeps one small state
// object under the stream's uri,
//
//	_kafka/<group>/<topic>/<partition>.json   {"next": offset, "pending": {...}, "recent": [event ids]}
//
// and stores a batch in three steps: (1) the state names the batch's objects
// as pending, (2) the objects are written, (3) the state moves next past the
// batch and drops pending. A consumer that finds a pending batch (its
// predecessor died in step 2) deletes its objects before it consumes again,
// and records below next are skipped (committed with the next batch). Records
// are also idempotent by event id: a record whose id is among the last
// RecentIDs stored from its partition (a producer's retry) is dropped.
//
// A record that does not validate cannot be sent back to its producer; it is
// kept, with its error and offset, in _kafka/<group>/<topic>/rejected/ and
// logged, and the stream goes on.
//
// May import: config, store, store/ingest, internal/kafkaconn (the client's
// connection options, shared with the audit publisher) and franz-go; never
// activities or workflows (the worker runs one consumer per model stream).
package kafka
