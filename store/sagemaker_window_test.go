package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

// TestSageMakerWindow reads a data-capture source in SageMaker's
// <endpoint>/<variant>/yyyy/mm/dd/hh/ layout (the source URI names the
// variant) and joins its ground-truth files by eventId.
func TestSageMakerWindow(t *testing.T) {
	dir := t.TempDir()
	fixture := func(name string) string {
		b, err := os.ReadFile(filepath.Join("format", "testdata", "sagemaker", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	capture := filepath.Join(dir, "datacapture", "churn-endpoint", "AllTraffic")
	writeFile(t, capture, "2026/03/01/10/05-12-345-abc.jsonl", fixture("capture-csv.jsonl"))
	writeFile(t, dir, "groundtruth/2026/03/01/14/labels.jsonl", fixture("groundtruth.jsonl"))
	m := &config.Model{
		Name:        "churn",
		Columns:     config.Columns{Target: "label", Prediction: "score", Time: "time", EventID: "event_id"},
		Source:      config.Source{URI: "file://" + capture, Format: "sagemaker", Columns: []string{"age", "plan", "spend"}},
		GroundTruth: config.Source{URI: "file://" + dir + "/groundtruth", Format: "sagemaker"},
	}
	s := New(config.Storage{}, WithClock(func() time.Time { return t0.Add(24 * time.Hour) }))
	rows, info, err := s.OpenWindow(context.Background(), m, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, rows)
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(got) != 4 || info.Rows != 4 || info.Labeled != 2 || info.Invalid != 2 {
		t.Fatalf("rows %v info %+v; want 4 rows, 2 labeled (a1, a2), 2 invalid", got, info)
	}
	if got[0]["age"] != "34" || got[0]["score"] != "0.91" || got[0]["label"] != "1" || got[1]["label"] != "0" || got[2]["label"] != "" {
		t.Errorf("rows = %v", got)
	}
}
