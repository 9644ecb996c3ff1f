package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/demo"
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
