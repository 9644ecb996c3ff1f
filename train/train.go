package train

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Trainer trains one model version.
type Trainer interface {
	// Name is the backend: command | sagemaker | gitlab | jenkins | kubeflow.
	Name() string
	// Train runs job to completion. progress receives human-readable status
	// lines (log lines, backend states); it must be cheap and may be nil.
	// Errors that retrying cannot fix satisfy IsPermanent.
	Train(ctx context.Context, job Job, progress func(msg string)) (*Result, error)
}

// Job is one training run.
type Job struct {
	Model string
	// RunID identifies the run across retries; a second Train with the same
	// RunID re-attaches to (or returns the result of) the first one.
	RunID string
	// TrainData and ValidationData are URIs (file://, s3:// or a local path).
	// ValidationData may be empty.
	TrainData      string
	ValidationData string
	// Output is where this run's artifacts go: a directory (command) or an
	// s3:// prefix (sagemaker, CI backends, which receive it as a variable).
	Output          string
	Hyperparameters map[string]string
}

// Result is what a finished run produced.
type Result struct {
	Trainer      string             `json:"trainer"`
	BackendJobID string             `json:"backend_job_id"` // job name, pipeline id, build URL, pid
	ArtifactURI  string             `json:"artifact_uri"`
	LogsURI      string             `json:"logs_uri,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
}

// PermanentError is a training failure that retrying will not fix: the
// program exited non-zero, the job failed, the pipeline failed. The activity
// should turn it into a non-retryable application error.
type PermanentError struct {
	Backend string
	JobID   string
	Reason  string
	// LogTail is the end of the job's log, when the backend has one.
	LogTail string
}

func (e *PermanentError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s training %s failed: %s", e.Backend, e.JobID, e.Reason)
	if e.LogTail != "" {
		b.WriteString("\n--- last log lines ---\n")
		b.WriteString(e.LogTail)
	}
	return b.String()
}

// IsPermanent reports whether err is a training failure retrying cannot fix.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// ErrStopped is wrapped by the error Train returns when the job was stopped
// on the backend (by ctx cancellation or by someone else).
var ErrStopped = errors.New("training job stopped")

// ErrShutdown, as the cause of ctx's cancellation (context.WithCancelCause),
// says the worker is shutting down rather than the run being cancelled:
// remote backends (SageMaker, GitLab, Jenkins) then leave their job running
// for the next attempt to re-attach to, and Train returns an error wrapping
// ErrDetached. A local command is stopped either way: it cannot outlive the
// worker that pipes its output. The lifecycle maps the Temporal SDK's
// worker.ErrWorkerShutdown to it.
var ErrShutdown = errors.New("worker shutting down")

// ErrDetached is wrapped by the error Train returns when it stopped
// watching a job it left running (ErrShutdown); retrying re-attaches.
var ErrDetached = errors.New("training job left running for the next attempt")

// shuttingDown reports whether ctx was cancelled because the worker is
// shutting down (see ErrShutdown).
func shuttingDown(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrShutdown)
}

// startCut is the error of a start request the worker's shutdown cut
// short: the backend may or may not have received it, and either way the
// next attempt looks the job up by its run id before starting one, so it is
// ErrDetached (retryable), not a failure of the start.
func startCut(ctx context.Context, err error) error {
	if shuttingDown(ctx) {
		return fmt.Errorf("%w: start request cut short: %w", ErrDetached, err)
	}
	return err
}

// Validate checks the fields every backend needs.
func (j Job) Validate() error {
	switch {
	case j.Model == "":
		return errors.New("train: job has no model name")
	case j.RunID == "":
		return errors.New("train: job has no run id (needed so a retry does not start a second job)")
	case j.TrainData == "":
		return errors.New("train: job has no training data URI")
	case j.Output == "":
		return errors.New("train: job has no output location")
	}
	return nil
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// JobName derives a backend job name from model and run id: only letters,
// digits and '-', at most max characters, the same for the same inputs. When
// it must be shortened, a hash of the full name keeps it unique.
func JobName(model, runID string, max int) string {
	full := "vigil-" + model + "-" + runID
	name := strings.Trim(unsafeName.ReplaceAllString(full, "-"), "-")
	if len(name) <= max {
		return name
	}
	h := shortHash(full)
	return strings.TrimRight(name[:max-len(h)-1], "-") + "-" + h
}

// serialized makes p safe to call from the log reader and the caller.
func serialized(p func(string)) func(string) {
	var mu sync.Mutex
	return func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		p(msg)
	}
}

func progressOrNop(p func(string)) func(string) {
	if p == nil {
		return func(string) {}
	}
	return p
}
