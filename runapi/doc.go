// Package runapi is the worker's HTTP API for orchestrators such as Airflow:
// start an evaluation or a retrain of a model and follow its workflow.
//
//	POST /v1/models/{model}/evaluations          {"window_end"?: RFC 3339}      → 202 Run
//	POST /v1/models/{model}/retrains             {"reason"?, "actor"?}          → 202 Run (started) or 200 Run (one was running: that one)
//	GET  /v1/models/{model}/evaluations/{run_id}                                → 200 Run
//	GET  /v1/models/{model}/retrains/{run_id}                                   → 200 Run
//
// A Run is {"workflow_id", "run_id", "status", "started"?, "started_at"?,
// "closed_at"?, "status_url"}; status is running, completed, failed,
// canceled, terminated, timed_out, continued_as_new, paused or unknown — a
// caller polls while it is running (or paused) and fails on anything but
// completed. Every request
// carries "Authorization: Bearer <token>" (worker.api_token_env; unset:
// open, dev only). Errors are {"error"}: 400 a bad body, 401 the token, 404
// an unknown model or run, 502 Temporal failed (retry).
//
// A POST that is retried (a lost answer) does not start a second retrain:
// while one runs, the answer is 200 with that run and "started": false.
//
// May import: control (to start and describe workflows), workflows (names) and the Temporal API's
// types; never activities, store or train: it only starts and follows workflows.
package runapi
