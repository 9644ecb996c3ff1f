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

// Ground truth joins a capture record on its inferenceId when it has one,
// else on its eventId, as SageMaker Model Monitor merges them.
func TestSageMakerGroundTruthJoinKey(t *testing.T) {
	capture := func(eventID, inferenceID string) string {
		meta := `"eventId": "` + eventID + `", "inferenceTime": "2026-03-01T10:00:05Z"`
		if inferenceID != "" {
			meta += `, "inferenceId": "` + inferenceID + `"`
		}
		return `{"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "34,pro,1", "encoding": "CSV"}, ` +
			`"endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.9", "encoding": "CSV"}}, "eventMetadata": {` + meta + `}, "eventVersion": "0"}` + "\n"
	}
	truth := func(id string) string {
		return `{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "` + id + `"}, "eventVersion": "0"}` + "\n"
	}
	cases := []struct {
		name                 string
		eventID, inferenceID string
		groundTruthID        string
		wantLabel            string
	}{
		{"inferenceId present, ground truth keyed by it", "e1", "req-1", "req-1", "1"},
		{"inferenceId present, ground truth keyed by eventId: not merged", "e1", "req-1", "e1", ""},
		{"no inferenceId: eventId", "e1", "", "e1", "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "capture/ep/AllTraffic/2026/03/01/10/a.jsonl", capture(tc.eventID, tc.inferenceID))
			writeFile(t, dir, "gt/2026/03/01/12/l.jsonl", truth(tc.groundTruthID))
			s := New(config.Storage{}, WithClock(func() time.Time { return t0.Add(24 * time.Hour) }))
			rows, _, err := s.OpenWindow(context.Background(), sagemakerModel("file://"+dir+"/capture/ep", "file://"+dir+"/gt"), t0, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, rows)
			if len(got) != 1 || got[0]["label"] != tc.wantLabel {
				t.Fatalf("rows %v, want one with label %q", got, tc.wantLabel)
			}
		})
	}
}
