// Package lifecycle is the one implementation of activities.ModelOps: it
// ties the store (training and held-out data, validation reports), the
// trainers of package train, the registry and the serving targets together
// behind the retrain and rollback activities.
//
// Every method is idempotent by its inputs, because Temporal activities
// retry and may run twice: exported data is reused per run id, trainers
// re-attach to their run, the registry registers a run id once, alias moves
// and rollbacks that already happened return what they did the first time.
//
// Imports: it is domain code: it may import analysis, config, store, train and
// train/registry, never activities, workflows or control (enforced by
// internal/arch).
package lifecycle
