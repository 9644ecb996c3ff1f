package format

import (
	"os"
	"strings"
	"testing"

	"github.com/vigilml/vigil/analysis"
)

// Fixtures in testdata/sagemaker follow the documented Model Monitor
// formats (data capture: captureData.endpointInput/endpointOutput with
// observedContentType, mode, data, encoding; ground truth: groundTruthData,
// eventMetadata.eventId, eventVersion). testdata/sagemaker/gen.py writes them.

func smLines(t *testing.T, rows analysis.Rows) []string {
	t.Helper()
	var out []string
	for rows.Next() {
		out = append(out, strings.Join(rows.Row(), "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSageMaker(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		opts    SageMakerOptions
		cols    string
		rows    []string
		invalid int64
	}{
		{
			name: "CSV capture, columns from config; batch CSV payloads give one row per line",
			file: "capture-csv.jsonl",
			opts: SageMakerOptions{Columns: []string{"age", "plan", "spend"}, Prediction: "score"},
			cols: "event_id|inference_id|time|age|plan|spend|score",
			rows: []string{
				"a1|req-1|2026-03-01T10:00:05Z|34|pro|120.5|0.91",
				"a2||2026-03-01T10:01:00Z|51|basic||0.12",
				"a3-0||2026-03-01T10:02:00Z|29|pro|80|0.7",
				"a3-1||2026-03-01T10:02:00Z|45|basic|10|0.2",
			},
			invalid: 2, // not JSON; no endpointInput
		},
		{
			name:    "CSV capture without column names",
			file:    "capture-csv.jsonl",
			cols:    "event_id|inference_id|time|f0|f1|f2|prediction",
			rows:    []string{"a1|req-1|2026-03-01T10:00:05Z|34|pro|120.5|0.91"},
			invalid: 2,
		},
		{
			name: "JSON capture: object keys, instances/predictions batches",
			file: "capture-json.jsonl",
			cols: "event_id|inference_id|time|age|plan|predicted_label|score",
			rows: []string{
				"b1||2026-03-01T10:00:00Z|34|pro|1|0.91",
				"b2-0||2026-03-01T10:00:30Z|51|basic|0|0.12",
				"b2-1||2026-03-01T10:00:30Z|22|pro|1|0.77",
			},
			invalid: 1, // two instances, one prediction
		},
		{
			name:    "BASE64 capture decoded by content type",
			file:    "capture-base64.jsonl",
			opts:    SageMakerOptions{Columns: []string{"age", "plan", "spend"}},
			cols:    "event_id|inference_id|time|age|plan|spend|prediction",
			rows:    []string{"c1||2026-03-01T10:00:00Z|34|pro|120.5|0.91"},
			invalid: 1, // not base64
		},
		{
			name:    "ground truth in CSV, JSON and BASE64",
			file:    "groundtruth.jsonl",
			opts:    SageMakerOptions{Target: "churned"},
			cols:    "event_id|churned",
			rows:    []string{"req-1|1", "a2|0", "b1|1"}, // req-1: a1's inferenceId, the merge key
			invalid: 1,                                   // no event id
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open("testdata/sagemaker/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := OpenSageMaker(f, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rows.Columns(), "|"); got != tt.cols {
				t.Errorf("columns = %s, want %s", got, tt.cols)
			}
			got := smLines(t, rows)
			if len(tt.rows) < len(got) {
				got = got[:len(tt.rows)]
			}
			if strings.Join(got, "\n") != strings.Join(tt.rows, "\n") {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.rows, "\n"))
			}
			if rows.Invalid() != tt.invalid {
				t.Errorf("invalid = %d, want %d", rows.Invalid(), tt.invalid)
			}
		})
	}
}

func TestSageMakerThroughOpen(t *testing.T) {
	rows, err := Open(strings.NewReader(`{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,2","encoding":"CSV"}},"eventMetadata":{"eventId":"x","inferenceTime":"2026-03-01T10:00:00Z"},"eventVersion":"0"}`+"\n"), "sagemaker", Options{Columns: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := smLines(t, rows); len(got) != 1 || got[0] != "x||2026-03-01T10:00:00Z|1|2" {
		t.Errorf("rows = %v", got)
	}
}
