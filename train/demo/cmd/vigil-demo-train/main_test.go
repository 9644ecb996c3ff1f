package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/demo"
	"github.com/vigilml/vigil/train/registry"
)

var binary string

// TestMain builds the trainer once, so the tests run it exactly as the
// command backend does.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigil-demo-train")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "vigil-demo-train")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func writeData(t *testing.T, path string, ex []demo.Example) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".csv") {
		err = demo.WriteCSV(f, ex)
	} else {
		err = demo.WriteJSONL(f, ex)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestTheCommandBackendRetrainsTheDemoModelAfterDrift(t *testing.T) {
	drift := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	g := demo.NewGenerator(demo.GeneratorConfig{Seed: 42, DriftAt: drift})
	dir := t.TempDir()
	// Recent traffic after the drift, in hour partitions, and a held-out file.
	writeData(t, filepath.Join(dir, "train/2026/11/28/13/part-0.jsonl"), g.Samples(800, drift.Add(time.Hour)))
	writeData(t, filepath.Join(dir, "train/2026/11/28/14/part-0.csv"), g.Samples(800, drift.Add(2*time.Hour)))
	writeData(t, filepath.Join(dir, "validation.jsonl"), g.Samples(1000, drift.Add(3*time.Hour)))

	res, err := (&train.Command{Argv: []string{binary}}).Train(context.Background(), train.Job{
		Model: "demo", RunID: "retrain-demo-1",
		TrainData: "file://" + filepath.Join(dir, "train"), ValidationData: filepath.Join(dir, "validation.jsonl"),
		Output: filepath.Join(dir, "out"), Hyperparameters: map[string]string{"l2": "1e-4"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ArtifactURI != "file://"+filepath.Join(dir, "out", "model.json") {
		t.Errorf("artifact = %s", res.ArtifactURI)
	}
	if res.Metrics["accuracy"] < 0.85 || res.Metrics["train_rows"] != 1600 || res.Metrics["rows"] != 1000 {
		t.Errorf("metrics = %v", res.Metrics)
	}
	m, err := demo.Load(strings.TrimPrefix(res.ArtifactURI, "file://"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Trained["l2"] != 1e-4 {
		t.Errorf("hyperparameter l2 not applied: %v", m.Trained)
	}
	if acc := demo.Accuracy(m, g.Samples(2000, drift.Add(4*time.Hour))); acc < 0.85 {
		t.Errorf("retrained model scores %.3f on fresh post-drift traffic", acc)
	}
}

func TestBadDataIsAPermanentFailureWithTheReason(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(`{"x1": 1, "label": 1}`+"\n"), 0o644)
	_, err := (&train.Command{Argv: []string{binary}}).Train(context.Background(), train.Job{
		Model: "demo", RunID: "r", TrainData: filepath.Join(dir, "train.jsonl"), Output: filepath.Join(dir, "out"),
	}, nil)
	if !train.IsPermanent(err) || !strings.Contains(err.Error(), `feature "x2" missing`) {
		t.Fatalf("got %v", err)
	}
}

// The closed loop the dev worker runs, end to end: bootstrap a production
// model, watch it degrade after the drift, retrain through the command
// backend on recent labelled traffic, register with lineage, promote, and
// score fresh traffic with the new production version; then roll back.
func TestClosedLoopBootstrapDriftRetrainPromoteRollback(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	blobs, err := store.New(config.Storage{}).Blobs(ctx, "file://"+filepath.Join(dir, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(blobs)
	drift := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	g := demo.NewGenerator(demo.GeneratorConfig{Seed: 9, DriftAt: drift})
	runs := filepath.Join(dir, "registry", "demo", "runs")
	v1, err := demo.Bootstrap(ctx, reg, "demo", runs, filepath.Join(dir, "demo", "reference.csv"), g, drift.Add(-time.Hour), 2000)
	if err != nil {
		t.Fatal(err)
	}
	accuracyOfProduction := func(at time.Time) float64 {
		v, err := reg.Resolve(ctx, "demo", registry.AliasProduction)
		if err != nil {
			t.Fatal(err)
		}
		m, err := demo.LoadURI(v.ArtifactURI)
		if err != nil {
			t.Fatal(err)
		}
		return demo.Accuracy(m, g.Samples(2000, at))
	}
	pre, post := accuracyOfProduction(drift.Add(-time.Minute)), accuracyOfProduction(drift.Add(time.Hour))

	recent := filepath.Join(dir, "recent", "labelled.jsonl")
	writeData(t, recent, g.Samples(2000, drift.Add(time.Hour)))
	job := train.Job{Model: "demo", RunID: "retrain-demo-1", TrainData: "file://" + recent, Output: filepath.Join(runs, "retrain-demo-1")}
	res, err := (&train.Command{Argv: []string{binary}}).Train(ctx, job, nil)
	if err != nil {
		t.Fatal(err)
	}
	nv, err := train.NewVersion(ctx, job, res, nil, "test", "accuracy-drop")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := reg.Register(ctx, "demo", nv)
	if err != nil {
		t.Fatal(err)
	}
	p := &train.Promoter{Registry: reg}
	if _, err := p.Promote(ctx, "demo", v2.Version, "vigil", "challenger beat champion", nil); err != nil {
		t.Fatal(err)
	}
	recovered := accuracyOfProduction(drift.Add(2 * time.Hour))
	t.Logf("production accuracy: %.3f before the drift, %.3f after, %.3f after retrain+promote", pre, post, recovered)
	if pre < 0.85 || post > 0.7 || recovered < 0.85 {
		t.Errorf("want ≥0.85, ≤0.7, ≥0.85")
	}
	pr, err := p.Rollback(ctx, "demo", 0, "oncall", "demo rollback", nil)
	if err != nil || pr.Version != v1.Version {
		t.Fatalf("rollback = %+v, %v", pr, err)
	}
}

func TestValidationPredictionsAreWrittenForRecordsWithAnEventID(t *testing.T) {
	dir := t.TempDir()
	g := demo.NewGenerator(demo.GeneratorConfig{Seed: 5})
	writeData(t, filepath.Join(dir, "train.jsonl"), g.Samples(300, time.Time{}))
	var val strings.Builder
	for i, ex := range g.Samples(40, time.Time{}) {
		id := fmt.Sprintf(`"event_id":"e%d",`, i)
		if i == 0 {
			id = "" // no id: cannot be joined, so not predicted
		}
		fmt.Fprintf(&val, `{%s"features":{"x1":%g,"x2":%g,"x3":%g,"x4":%g},"label":%d}`+"\n", id, ex.X[0], ex.X[1], ex.X[2], ex.X[3], ex.Label)
	}
	os.WriteFile(filepath.Join(dir, "val.jsonl"), []byte(val.String()), 0o644)
	out := filepath.Join(dir, "out")
	if err := demo.RunTrainer([]string{"-train", filepath.Join(dir, "train.jsonl"), "-validation", filepath.Join(dir, "val.jsonl"), "-output", out},
		func(string) string { return "" }, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "validation_predictions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var rec struct {
		EventID    string  `json:"event_id"`
		Prediction *int    `json:"prediction"`
		Score      float64 `json:"score"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 39 || rec.EventID != "e1" || rec.Prediction == nil || rec.Score <= 0 || rec.Score >= 1 {
		t.Errorf("%d predictions, first %+v", len(lines), rec)
	}
}
