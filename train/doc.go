// Package train runs training jobs on the backends Vigil supports (a local
// command, SageMaker training jobs, GitLab pipelines, Jenkins jobs, Kubeflow
// Pipelines runs) behind one Trainer interface. The model registry lives in train/registry and the demo
// model family in train/demo.
//
// A Trainer is called from a Temporal activity: it reports progress through
// a callback the activity turns into heartbeats, stops the external job when
// ctx is cancelled, and is idempotent by Job.RunID, so an activity retried
// after a worker crash re-attaches to the job it started instead of starting
// a second one.
//
// Imports: it is domain code: it may import config, train/registry, store and
// the AWS SDK, never activities, workflows or control (enforced by
// internal/arch).
package train
