// Package train runs training jobs on the backends Vigil supports (a local
// command, SageMaker training jobs, GitLab pipelines, Jenkins jobs, Kubeflow
// Pipelines runs) behind one
// Trainer interface, and holds the other model operations that talk to a
// backend: the SageMaker endpoint deployer (a version alone, or a challenger
// beside the champion as a shadow or canary variant), the Promoter (production alias
// and endpoint together), and a version's lineage (NewVersion, HashData).
//
// A Trainer reports progress through a callback, stops the external job when
// ctx is cancelled (and leaves it running when the cancellation's cause is
// ErrShutdown), and is idempotent by Job.RunID, so a retried call
// re-attaches to the job it started instead of starting a second one.
//
// Retraining is layered, each layer importing only those below it:
//
//	workflows/retrain.go   the RetrainWorkflow: the steps, the gate, the saga (deterministic)
//	activities/retrain.go  thin adapters: wire types ↔ lifecycle types, heartbeats, error classes
//	train/lifecycle        the steps' domain logic over config, store, train and registry
//	train                  backends, deployer, promoter, lineage (this package)
//	train/registry         versions, aliases and their history, in a store
//
// May import: config, train/registry, the AWS SDK.
// Not activities, workflows, control or any Temporal package (enforced by
// internal/arch): the domain does not
// know it is orchestrated.
package train
