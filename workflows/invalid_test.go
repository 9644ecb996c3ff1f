package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

// A window whose data cannot be analysed as configured gets status invalid
// (its report says why, naming the side and the column), never ok and never
// a failed workflow; an empty window is no-data. No rule breaches or
// recovers on either.
func TestWindowStatusForBadInput(t *testing.T) {
	line := func(i int, features string) string {
		return fmt.Sprintf(`{"event_id":"e%d","time":"2026-03-01T11:%02d:%02dZ","features":{%s},"prediction":%d,"label":%d}`+"\n",
			i, i/60, i%60, features, i%2, i%2)
	}
	cases := []struct {
		name   string
		task   string
		window func(i int) string // one JSONL line per i; "" writes a header-only CSV
		status string
		reason []string
	}{
		{"good data", "binary", func(i int) string { return line(i, fmt.Sprintf(`"x":%d`, i%10)) }, StatusOK, nil},
		{"no column shared with the reference", "binary", func(i int) string { return line(i, fmt.Sprintf(`"y":%d`, i%10)) },
			StatusInvalid, []string{"window file://", "current data", "shares no feature column", "reference features: x"}},
		{"every feature empty", "binary", func(i int) string { return line(i, `"x":null`) },
			StatusInvalid, []string{"current data", "every feature is missing"}},
		{"continuous target under multiclass", "multiclass", func(i int) string {
			return fmt.Sprintf(`{"event_id":"e%d","features":{"x":%d},"prediction":%g,"label":%g}`+"\n", i, i%10, float64(i)*1.1, float64(i)*1.3)
		}, StatusInvalid, []string{`column "label"`, "-task regression"}},
		{"header only", "binary", nil, StatusNoData, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			hour := filepath.Join(dir, "pred", "2026", "03", "01", "11")
			if err := os.MkdirAll(hour, 0o755); err != nil {
				t.Fatal(err)
			}
			var ref, win strings.Builder
			ref.WriteString("x,prediction,label\n")
			for i := range 200 {
				fmt.Fprintf(&ref, "%d,%d,%d\n", i%10, i%2, i%2)
			}
			name := "a.jsonl"
			if tc.window == nil {
				name, win = "a.csv", strings.Builder{}
				win.WriteString("event_id,time,x,prediction,label\n")
			} else {
				for i := range 1100 {
					win.WriteString(tc.window(i))
				}
			}
			os.WriteFile(filepath.Join(dir, "ref.csv"), []byte(ref.String()), 0o644)
			os.WriteFile(filepath.Join(hour, name), []byte(win.String()), 0o644)
			yaml := fmt.Sprintf(`
models:
  - name: churn
    task: %s
    schedule: {every: 1h, window: 1h}
    columns: {target: label, prediction: prediction}
    source: {uri: "file://%s/pred"}
    reference: {uri: "file://%s/ref.csv"}
    rules:
      - {name: accuracy-drop, metric: performance.accuracy, below: 0.5, severity: critical}
`, tc.task, dir, dir)
			cfg, err := config.Parse(filepath.Join(dir, "vigil.yaml"), []byte(yaml), config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Storage.Reports = "file://" + filepath.Join(dir, "reports")
			acts := &activities.Activities{Config: func() *config.Config { return cfg }, Store: store.New(cfg.Storage)}
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			env.RegisterActivity(acts)
			var published string
			env.OnActivity(a.PublishMetrics, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.PublishMetricsInput) error { published = in.Status; return nil })
			var got activities.Evaluation
			env.OnActivity(a.SignalIncident, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.SignalIncidentInput) error { got = in.Evaluation; return nil })
			env.ExecuteWorkflow(MonitorWorkflow, MonitorInput{Model: "churn", WindowEnd: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("the workflow failed (%v); a window with bad data must get a status instead", err)
			}
			var res MonitorResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || published != tc.status {
				t.Fatalf("status %q (published %q), want %q", res.Status, published, tc.status)
			}
			if tc.status == StatusOK {
				return
			}
			if len(got.Results) != 1 || got.Results[0].HasValue || got.Results[0].Breached {
				t.Errorf("signalled %+v, want the rule without a value (neither breach nor recovery)", got.Results)
			}
			body, err := os.ReadFile(strings.TrimPrefix(res.ReportURI, "file://"))
			if err != nil {
				t.Fatal(err)
			}
			var report struct {
				Status string `json:"status"`
				Reason string `json:"invalid"`
			}
			if err := json.Unmarshal(body, &report); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.reason {
				if !strings.Contains(report.Reason, w) {
					t.Errorf("report reason %q does not name %q", report.Reason, w)
				}
			}
		})
	}
}
