package format

import "testing"

func TestDetect(t *testing.T) {
	capture := `{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,2","encoding":"CSV"}},"eventMetadata":{"eventId":"e1"},"eventVersion":"0"}` + "\n"
	truth := `{"groundTruthData":{"data":"1","encoding":"CSV"},"eventMetadata":{"eventId":"e1"},"eventVersion":"0"}`
	cases := []struct{ name, head, want string }{
		{"ref.csv", "a,b\n1,2\n", "csv"},
		{"ref.csv.gz", "a,b\n1,2\n", "csv"},
		{"ref.csv", `{"a":1}`, "csv"}, // an explicit extension wins
		{"m.parquet", "", "parquet"},
		{"part-0", "PAR1\x15\x04", "parquet"},
		{"2026/12/01/10/00-00-000-x.jsonl", capture, "sagemaker"},
		{"2026/12/01/10/labels.jsonl", truth, "sagemaker"},
		{"events.jsonl.gz", `{"event_id":"e1","features":{"a":1}}`, "jsonl"},
		{"events", `{"event_id":"e1"}`, "jsonl"},
		{"events", "\ufeff  {\"event_id\":\"e1\"}", "jsonl"},
		{"events.gz", "a,b\n1,2\n", "csv"},
		{"events.jsonl", "", "jsonl"},
		{"events.jsonl", "a,b\n", "jsonl"},
		{"noext", "", "csv"},
	}
	for _, tc := range cases {
		if got := Detect(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("Detect(%q, %.20q) = %q, want %q", tc.name, tc.head, got, tc.want)
		}
	}
}
