package activities

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/train"
)

type fakeWorkflows struct {
	last    time.Time
	started int
}

func (f *fakeWorkflows) SignalIncident(context.Context, Evaluation) error { return nil }

func (f *fakeWorkflows) StartRetrain(context.Context, string, string, string) (bool, string, error) {
	f.started++
	f.last = time.Now()
	return true, "run-2", nil
}

func (f *fakeWorkflows) LastRetrain(context.Context, string) (string, time.Time, error) {
	if f.last.IsZero() {
		return "", time.Time{}, nil
	}
	return "run-1", f.last, nil
}

// A retried StartRetrain (its first answer lost with a crashed worker) finds
// the retrain its first attempt started, even one that already finished, and
// starts no second one; a later incident retrains again.
func TestStartRetrainIsIdempotentPerIncident(t *testing.T) {
	cfg, err := config.Parse("vigil.yaml", []byte(`
models:
  - name: churn
    task: binary
    columns: {target: label, prediction: prediction}
    source: {uri: "file:///data/pred"}
    ground_truth: {uri: "file:///data/gt"}
    reference: {uri: "file:///data/ref.csv"}
    retrain: {trainer: command, command: [train]}
`), config.Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	wf := &fakeWorkflows{}
	a := &Activities{Config: func() *config.Config { return cfg }, Workflows: wf}
	opened := time.Now().Add(-time.Minute)
	in := StartRetrainInput{Model: "churn", Reason: "accuracy-drop", Since: opened}
	for attempt := 1; attempt <= 2; attempt++ {
		res, err := a.StartRetrain(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Started != (attempt == 1) {
			t.Errorf("attempt %d: started %v", attempt, res.Started)
		}
	}
	if wf.started != 1 {
		t.Errorf("%d retrains started for one incident, want 1", wf.started)
	}
	in.Since = time.Now().Add(time.Second) // a later incident
	if res, err := a.StartRetrain(context.Background(), in); err != nil || !res.Started || wf.started != 2 {
		t.Errorf("later incident: %+v, %v, %d started; want a new retrain", res, err, wf.started)
	}
}

// The SDK cancels a running activity with cause worker.ErrWorkerShutdown
// when the worker stops; the trainer must see train.ErrShutdown (leave a
// remote job running for the next attempt), and any other cancellation as
// it is (stop the job).
func TestTrainerContextTellsShutdownFromCancellation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cause    error
		shutdown bool
	}{
		{"worker shutdown", worker.ErrWorkerShutdown, true},
		{"workflow cancelled", context.Canceled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			tctx, stop := trainerContext(ctx)
			defer stop()
			if tctx.Err() != nil {
				t.Fatalf("trainer context done before the activity's: %v", tctx.Err())
			}
			cancel(tc.cause)
			<-tctx.Done()
			cause := context.Cause(tctx)
			if errors.Is(cause, train.ErrShutdown) != tc.shutdown || !errors.Is(cause, tc.cause) {
				t.Errorf("cause = %v; want train.ErrShutdown %v, wrapping %v", cause, tc.shutdown, tc.cause)
			}
		})
	}
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	tctx, stop := trainerContext(ctx)
	defer stop()
	if dl, ok := tctx.Deadline(); !ok || !dl.Equal(deadline) {
		t.Errorf("deadline = %v, %v; want the activity's %v", dl, ok, deadline)
	}
}
