// Package ecslog writes log/slog records as Elastic Common Schema JSON, the
// shape Filebeat and Elastic Agent ship to Elasticsearch without an ingest
// pipeline: one object per line with @timestamp (UTC, RFC 3339 with
// nanoseconds), log.level (lower case), message and ecs.version first, as
// the ECS logging specification orders them; error attributes ("err",
// "error") become error.message; every other attribute is kept under its
// own name (model, workflow_id, run_id, …), groups as nested objects.
//
// May import: the standard library only.
package ecslog
