package activities

import (
	"context"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
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
