// Package lifecycle is the model lifecycle behind the retrain and rollback
// activities: it exports a run's training and held-out data from the store,
// runs the configured trainer (package train), registers the challenger with
// its lineage (train/registry), validates it against the champion with the
// analysis engine, moves aliases, deploys, records outcomes and rolls back,
// and runs the serving side of shadow and canary rollouts (stage, evaluate
// on live traffic, record).
//
// Every method is idempotent by its inputs, because the activities that call
// it retry and may run twice: exported data is reused per run id, trainers
// re-attach to their run, the registry registers a run id once, alias moves
// and rollbacks that already happened return what they did the first time.
//
// Its requests and results (types.go) are its own; package activities
// converts its wire types to them. May import: analysis, config, store,
// train, train/registry. Not activities, workflows or any Temporal package.
package lifecycle
