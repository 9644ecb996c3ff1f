// Package mlflow mirrors Vigil's retrains and promotions into MLflow through
// its REST API (/api/2.0/mlflow/...): each retrain becomes an MLflow run
// (params = hyperparameters, metrics = training and validation metrics,
// tags = data hashes, code version and the Temporal workflow link), and each
// alias move of Vigil's registry (promotion, rollback) is mirrored as an
// MLflow Model Registry version with the same alias.
//
// Vigil's registry (train/registry) stays the source of truth: MLflow is a
// mirror. Ops wraps the lifecycle's activities.ModelOps, so no workflow
// gains a command and the lifecycle code is untouched.
//
// It is an adapter at the orchestration edge, not domain code (so it lives outside train/): it
// wraps activities.ModelOps and reads the activity's info for the workflow link. May import: activities,
// train/lifecycle, train/registry and the Temporal SDK's activity package; never workflows or control.
package mlflow
