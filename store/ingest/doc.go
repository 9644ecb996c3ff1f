// Package ingest is the HTTP API model servers without data capture use to
// log their predictions and the ground truth that arrives later:
//
//	POST /v1/models/{model}/predictions    records {event_id, time?, prediction, features{...}, score?, ...}
//	POST /v1/models/{model}/ground-truth   records {event_id, time?, label|target|<columns.target>}
//
// A body is JSON lines or one JSON array. Every record is validated before
// anything is written; a bad record fails the whole request with 400 and its
// line (or array element) number, so a request is stored entirely or not at
// all. Records are appended to the model's source.uri (predictions) or
// ground_truth.uri (labels) as new JSONL objects,
// <yyyy/mm/dd/hh>/<unix-nanos>-<random>.jsonl: predictions in the hour of
// their time, ground truth in the hour it arrives (the window reader looks
// for labels up to a week after the window). Each object is written
// atomically (temporary file + rename, or one S3 PutObject), so readers never
// see a torn file.
//
// The worker mounts it beside its other endpoints:
//
//	h := ingest.New(cfg.Models, st, ingest.Options{Token: os.Getenv(cfg.Worker.IngestTokenEnv)})
//	mux.Handle("/v1/", h)
//
// Status codes: 200 stored ({"accepted": n, "objects": [...]}), 400 a bad
// record ({"error", "line"}), 401 missing or wrong token, 404 unknown model,
// 405 not POST, 409 the model's source cannot take JSONL, 413 body too large
// or a record over Options.MaxLine ({"error", "line"}), 429 the model's rate
// limit (Retry-After says when to retry), 503 the store failed or timed out
// (retry), 500 the store refused (permanent).
//
// Limits: the body (MaxBody, 8 MiB), each record (MaxLine, 1 MiB), the
// request rate per model (a token bucket, RateLimit/s with Burst, 50/s and
// 100 by default) and each store write (StoreTimeout, 30 s). The worker's
// http.Server bounds reading headers and bodies.
//
// Imports: it may import config and store; not Temporal, workflows or
// activities.
package ingest
