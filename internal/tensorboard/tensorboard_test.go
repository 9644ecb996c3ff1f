package tensorboard

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

// python is Debian's python3 with python3-protobuf and python3-crc32c, the
// independent reader (testdata/events.py). Absent, the tests skip locally
// and fail under CI=true, which installs them (.ci/run).
func python(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	err := exec.Command(py, "-c", "import crc32c, google.protobuf").Run()
	switch {
	case err != nil && os.Getenv("CI") == "true":
		t.Fatalf("%s with python3-protobuf and python3-crc32c is needed: %v", py, err)
	case err != nil:
		t.Skipf("%s with python3-protobuf and python3-crc32c not available: %v", py, err)
	}
	return py
}

// readEvents decodes an event file with the independent reader.
func readEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	out, err := exec.Command(python(t), "testdata/events.py", "read", path).CombinedOutput()
	if err != nil {
		t.Fatalf("the python reader refused %s: %v\n%s", path, err, out)
	}
	var evs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("reader output %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// The writer reproduces, byte for byte, the file python3-protobuf and
// python3-crc32c write for the same events (testdata/golden.tfevents,
// regenerated with /usr/bin/python3 testdata/events.py golden testdata/golden.tfevents).
func TestFileMatchesTheGoldenBytesOfAnIndependentWriter(t *testing.T) {
	want, err := os.ReadFile("testdata/golden.tfevents")
	if err != nil {
		t.Fatal(err)
	}
	got := File(1764590400.25, 1764590400, []Scalar{
		{"drift/age/statistic", 0.125}, {"performance/accuracy", 0.875}, {"rows/current", 1200}})
	if !bytes.Equal(got, want) {
		t.Errorf("event file differs from the golden file:\n got %x\nwant %x", got, want)
	}
}

// The TFRecord checksum is CRC-32C masked as TensorFlow masks it; known
// values computed from the CRC-32C check value and the mask definition.
func TestMaskedCRC(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
	}{
		// crc32c("") = 0; Mask(0) = 0xa282ead8.
		{"", 0xa282ead8},
		// crc32c("123456789") = 0xe3069283, the CRC-32C check value.
		{"123456789", 0xc78ab0e5}, // rotr(0xe3069283, 15) + 0xa282ead8 mod 2^32
	} {
		if got := maskedCRC([]byte(tc.in)); got != tc.want {
			t.Errorf("maskedCRC(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}

func report() *analysis.Report {
	p := 0.003
	return &analysis.Report{
		Rows:        analysis.RowCounts{Reference: 5000, Current: 1200, Labeled: 1100, Invalid: 2},
		Performance: map[string]float64{"accuracy": 0.91, "f1": 0.5},
		Latency:     &analysis.Latency{P50: 12, P95: 40, P99: 95.5},
		Features: []analysis.FeatureReport{
			{Name: "age", MissingRatio: 0.01, Drift: analysis.Drift{Method: "ks", Statistic: 0.21, PValue: &p}},
			{Name: "plan", Drift: analysis.Drift{Method: "psi", Statistic: 0.05}},
		},
		DatasetDrift: analysis.DatasetDrift{DriftedFeatures: 1, Tested: 2, Share: 0.5},
		Quality:      map[string]float64{"duplicate_rows": 3},
	}
}

// An evaluation becomes one event file per model and window, which the
// independent reader decodes to the report's numbers; writing it again (a
// retried activity) leaves the same single file.
func TestSinkWritesOneEventFilePerModelAndWindow(t *testing.T) {
	dir := t.TempDir()
	st := store.New(config.Storage{})
	sink := &Sink{LogDir: "file://" + dir, Put: st.PutObject}
	end := time.Date(2026, 12, 1, 10, 15, 0, 0, time.UTC)
	for range 2 {
		if err := sink.WriteEvaluation(context.Background(), "churn", "v3", "ok", report(), end); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.WriteEvaluation(context.Background(), "churn", "v3", "incomplete", nil, end.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "churn", "*"))
	want := filepath.Join(dir, "churn", "events.out.tfevents.1796120100.vigil")
	if len(files) != 1 || files[0] != want {
		t.Fatalf("files %v, want only %s", files, want)
	}
	evs := readEvents(t, want)
	if len(evs) != 2 || evs[0]["file_version"] != "brain.Event:2" {
		t.Fatalf("events %v", evs)
	}
	if evs[1]["step"] != float64(1796120100) || evs[1]["wall_time"] != float64(1796120100) {
		t.Errorf("step/wall time %v %v, want the window end", evs[1]["step"], evs[1]["wall_time"])
	}
	got := evs[1]["scalars"].(map[string]any)
	for tag, v := range map[string]float64{
		"performance/accuracy": 0.91, "latency/p99_ms": 95.5, "rows/current": 1200, "rows/labeled": 1100,
		"drift/age/statistic": 0.21, "drift/age/p_value": 0.003, "missing_ratio/age": 0.01,
		"drift/plan/statistic": 0.05, "drift/dataset_share": 0.5, "quality/duplicate_rows": 3,
	} {
		if g, ok := got[tag].(float64); !ok || float32(g) != float32(v) {
			t.Errorf("%s = %v, want %v (float32)", tag, got[tag], v)
		}
	}
	if _, ok := got["drift/plan/p_value"]; ok {
		t.Error("a distance without a p-value got a p_value series")
	}
}
