// Package metrics exports what Vigil learns about the models it watches as
// Prometheus metrics (and, optionally, DogStatsD): the worker creates one
// Publisher, serves its registry on /metrics, and the monitoring activities
// call it after each evaluation. `starter analyze -push` pushes the same
// series to a Pushgateway.
//
// What Evaluation publishes are gauges set from a report, so publishing is
// idempotent: an activity retried by Temporal writes the same values again.
// Counters count events (evaluations, failures, notifications, retrains),
// where a retried activity may count twice; the alert rules use them only
// for rates.
//
// Label cardinality is bounded: models come from the config, features are
// capped per model (most drifted first, Options.MaxFeatures), metric and
// quality names come from the analysis package, and each evaluation replaces
// the model's previous series, so a feature, metric or version that is gone
// from the newest report is gone from /metrics too.
//
// Imports: it may import analysis (report types), config and the Prometheus,
// DogStatsD and Temporal SDK metrics libraries; not store, notify, train or
// workflows.
package metrics
