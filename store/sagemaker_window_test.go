package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

func sagemakerFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("format", "testdata", "sagemaker", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sagemakerModel(src, gt string) *config.Model {
	return &config.Model{
		Name:        "churn",
		Columns:     config.Columns{Target: "label", Prediction: "score", Time: "time", EventID: "event_id"},
		Source:      config.Source{URI: src, Format: "sagemaker", Columns: []string{"age", "plan", "spend"}},
		GroundTruth: config.Source{URI: gt, Format: "sagemaker"},
	}
}

// TestSageMakerWindow reads data capture in SageMaker's
// <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/ layout and joins its
// ground-truth files by eventId. The source URI may name the variant, the
// endpoint (all its variants) or the capture prefix.
func TestSageMakerWindow(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "datacapture")
	writeFile(t, capture, "churn-endpoint/AllTraffic/2026/03/01/10/05-12-345-abc.jsonl", sagemakerFixture(t, "capture-csv.jsonl"))
	writeFile(t, capture, "churn-endpoint/Shadow/2026/03/01/10/07-00-000-def.jsonl", sagemakerFixture(t, "capture-base64.jsonl"))
	writeFile(t, dir, "groundtruth/2026/03/01/14/labels.jsonl", sagemakerFixture(t, "groundtruth.jsonl"))
	tests := []struct {
		name                   string
		uri                    string
		rows, labeled, invalid int64
	}{
		{"the variant", capture + "/churn-endpoint/AllTraffic", 4, 2, 2},
		{"the endpoint: every variant", capture + "/churn-endpoint", 5, 2, 3},
		{"the capture prefix: every endpoint", capture, 5, 2, 3},
	}
	s := New(config.Storage{}, WithClock(func() time.Time { return t0.Add(24 * time.Hour) }))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, info, err := s.OpenWindow(context.Background(), sagemakerModel("file://"+tt.uri, "file://"+dir+"/groundtruth"), t0, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, rows)
			if rows.Err() != nil {
				t.Fatal(rows.Err())
			}
			if info.Rows != tt.rows || info.Labeled != tt.labeled || info.Invalid != tt.invalid {
				t.Fatalf("info %+v; want %d rows, %d labeled, %d invalid", info, tt.rows, tt.labeled, tt.invalid)
			}
			if got[0]["age"] != "34" || got[0]["score"] != "0.91" || got[0]["label"] != "1" || got[1]["label"] != "0" || got[2]["label"] != "" {
				t.Errorf("rows = %v", got)
			}
		})
	}
}

func TestSageMakerWindowS3(t *testing.T) {
	s, be := fakeS3(t, "sm")
	putObject(t, be, "sm", "capture/churn-endpoint/AllTraffic/2026/03/01/10/a.jsonl", []byte(sagemakerFixture(t, "capture-csv.jsonl")))
	putObject(t, be, "sm", "capture/churn-endpoint/Shadow/2026/03/01/10/b.jsonl.gz", []byte(sagemakerFixture(t, "capture-base64.jsonl")))
	putObject(t, be, "sm", "gt/2026/03/01/12/l.jsonl", []byte(sagemakerFixture(t, "groundtruth.jsonl")))
	s.now = func() time.Time { return t0.Add(24 * time.Hour) }
	rows, info, err := s.OpenWindow(context.Background(), sagemakerModel("s3://sm/capture/churn-endpoint", "s3://sm/gt"), t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	collect(t, rows)
	if info.Rows != 5 || info.Labeled != 2 || info.Objects != 2 || rows.Err() != nil {
		t.Errorf("info %+v err %v; want 5 rows from 2 variants, 2 labeled", info, rows.Err())
	}
}
