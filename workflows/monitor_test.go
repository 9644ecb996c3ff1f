package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

// incompleteWindow lays out a model whose window has one readable object
// and one truncated gzip object, and returns its config.
func incompleteWindow(t *testing.T) (cfg *config.Config, badObject, goodContent string) {
	t.Helper()
	dir := t.TempDir()
	var ref, good strings.Builder
	ref.WriteString("x,prediction,label\n")
	for i := range 200 {
		fmt.Fprintf(&ref, "%d,%d,%d\n", i%10, i%2, i%2)
		fmt.Fprintf(&good, `{"event_id":"e%d","time":"2026-03-01T11:%02d:%02dZ","features":{"x":%d},"prediction":%d,"label":%d}`+"\n",
			i, i/60, i%60, i%10, i%2, i%2)
	}
	hour := filepath.Join(dir, "pred", "2026", "03", "01", "11")
	if err := os.MkdirAll(hour, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ref.csv"), []byte(ref.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hour, "a.jsonl"), []byte(good.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	badObject = filepath.Join(hour, "b.jsonl.gz")
	if err := os.WriteFile(badObject, []byte{0x1f, 0x8b, 8, 0, 0, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`
models:
  - name: churn
    task: binary
    schedule: {every: 1h, window: 1h}
    columns: {target: label, prediction: prediction}
    features: [x]
    source: {uri: "file://%s/pred", format: jsonl}
    reference: {uri: "file://%s/ref.csv"}
    rules:
      - {name: accuracy-drop, metric: performance.accuracy, below: 2, severity: critical}
`, dir, dir)
	cfg, err := config.Parse(filepath.Join(dir, "vigil.yaml"), []byte(yaml), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Storage.Reports = "file://" + filepath.Join(dir, "reports")
	return cfg, badObject, good.String()
}

// An object that cannot be read is read again (Analyze fails with a
// retryable VigilIncomplete error) and, if it stays unreadable, the window
// is reported as incomplete: the report covers the readable rows and names
// the object, and no rule breaches on the partial numbers.
func TestIncompleteWindowIsReadAgainThenReportedWithoutVerdicts(t *testing.T) {
	for _, heals := range []bool{false, true} {
		t.Run(fmt.Sprintf("heals=%v", heals), func(t *testing.T) {
			cfg, bad, good := incompleteWindow(t)
			acts := &activities.Activities{Config: func() *config.Config { return cfg }, Store: store.New(cfg.Storage)}
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			env.RegisterActivity(acts)
			env.OnActivity(a.PublishMetrics, mock.Anything, mock.Anything).Return(nil)
			var got activities.Evaluation
			env.OnActivity(a.SignalIncident, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.SignalIncidentInput) error {
					got = in.Evaluation
					return nil
				})
			attempts := 0
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				if info.ActivityType.Name != "Analyze" {
					return
				}
				attempts = int(info.Attempt)
				if heals && info.Attempt == 2 { // the object is rewritten before the second read
					if err := os.WriteFile(bad, []byte(strings.ReplaceAll(good, `"e`, `"f`)), 0o644); err != nil {
						t.Error(err)
					}
				}
			})
			env.ExecuteWorkflow(MonitorWorkflow, MonitorInput{Model: "churn", WindowEnd: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var res MonitorResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			body, err := os.ReadFile(strings.TrimPrefix(res.ReportURI, "file://"))
			if err != nil {
				t.Fatal(err)
			}
			var report struct {
				Incomplete bool     `json:"incomplete"`
				ReadErrors []string `json:"read_errors"`
			}
			if err := json.Unmarshal(body, &report); err != nil {
				t.Fatal(err)
			}
			if heals {
				if attempts != 2 || res.Status != StatusBreach || res.Rows != 400 || report.Incomplete || !got.Results[0].Breached {
					t.Errorf("healed: %d attempts, status %s, %d rows, report incomplete %v, results %+v; want 2, breach, 400, false, a breach",
						attempts, res.Status, res.Rows, report.Incomplete, got.Results)
				}
				return
			}
			if attempts != activities.IncompleteAttempts {
				t.Errorf("Analyze ran %d times, want %d", attempts, activities.IncompleteAttempts)
			}
			if res.Status != StatusIncomplete || res.Rows != 200 {
				t.Errorf("status %s over %d rows, want incomplete over the 200 readable ones", res.Status, res.Rows)
			}
			if !report.Incomplete || len(report.ReadErrors) != 1 || !strings.Contains(report.ReadErrors[0], "b.jsonl.gz") {
				t.Errorf("report: incomplete %v, read errors %q; want the unreadable object named", report.Incomplete, report.ReadErrors)
			}
			if len(got.Results) != 1 || got.Results[0].HasValue || got.Results[0].Breached {
				t.Errorf("signalled %+v, want the rule without a value (neither breach nor recovery)", got.Results)
			}
		})
	}
}

// A window with rows, but fewer than the model's min_rows, gets status
// insufficient-data: its report keeps the statistics without verdicts, and
// no rule breaches or recovers on it. At min_rows or more it is judged.
func TestSmallWindowHasInsufficientData(t *testing.T) {
	tests := []struct {
		minRows    int
		wantStatus string
	}{
		{minRows: 201, wantStatus: StatusInsufficientData},
		{minRows: 200, wantStatus: StatusBreach},
		{minRows: 50, wantStatus: StatusBreach},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("min_rows=%d", tc.minRows), func(t *testing.T) {
			cfg, bad, _ := incompleteWindow(t) // 200 readable rows
			if err := os.Remove(bad); err != nil {
				t.Fatal(err)
			}
			cfg.Models[0].MinRows = tc.minRows
			lowTraffic, below := cfg.Models[0].Rules[0], 150.0
			lowTraffic.Name, lowTraffic.Metric, lowTraffic.Below, lowTraffic.Severity = "low-traffic", "rows.current", &below, "warning"
			cfg.Models[0].Rules = append(cfg.Models[0].Rules, lowTraffic)
			acts := &activities.Activities{Config: func() *config.Config { return cfg }, Store: store.New(cfg.Storage)}
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			env.RegisterActivity(acts)
			var published string
			env.OnActivity(a.PublishMetrics, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.PublishMetricsInput) error {
					published = in.Status
					return nil
				})
			var got activities.Evaluation
			env.OnActivity(a.SignalIncident, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.SignalIncidentInput) error {
					got = in.Evaluation
					return nil
				})
			env.ExecuteWorkflow(MonitorWorkflow, MonitorInput{Model: "churn", WindowEnd: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var res MonitorResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.wantStatus || published != tc.wantStatus || res.Rows != 200 {
				t.Fatalf("status %s (published %s) over %d rows, want %s over 200", res.Status, published, res.Rows, tc.wantStatus)
			}
			body, err := os.ReadFile(strings.TrimPrefix(res.ReportURI, "file://"))
			if err != nil {
				t.Fatal(err)
			}
			var report struct {
				InsufficientData bool `json:"insufficient_data"`
				Features         []struct {
					Drift struct {
						Drifted bool   `json:"drifted"`
						Note    string `json:"note"`
					} `json:"drift"`
				} `json:"features"`
			}
			if err := json.Unmarshal(body, &report); err != nil {
				t.Fatal(err)
			}
			insufficient := tc.wantStatus == StatusInsufficientData
			if report.InsufficientData != insufficient {
				t.Errorf("report insufficient_data = %v, want %v", report.InsufficientData, insufficient)
			}
			for _, f := range report.Features {
				if insufficient && (f.Drift.Drifted || !strings.Contains(f.Drift.Note, "min_rows is 201")) {
					t.Errorf("feature drift %+v: want no verdict and a note naming min_rows", f.Drift)
				}
			}
			for _, r := range got.Results {
				switch {
				case r.Rule == "low-traffic" && (!r.HasValue || r.Breached):
					// 200 rows are not below 150: row counts are judged at any size
					t.Errorf("row-count rule %s: %+v, want judged and not breached", r.Rule, r)
				case r.Rule != "low-traffic" && insufficient && (r.Breached || r.HasValue):
					t.Errorf("rule %s judged an insufficient window: %+v", r.Rule, r)
				case r.Rule != "low-traffic" && !insufficient && !r.Breached:
					t.Errorf("rule %s did not breach: %+v", r.Rule, r)
				}
			}
		})
	}
}

// A threshold: auto rule breaches when the value leaves the metric's
// reference band, and without a band it neither breaches nor recovers,
// with its threshold saying why.
func TestCheckRulesThresholdAuto(t *testing.T) {
	spec := activities.ModelSpec{Name: "churn", Task: "binary", Rules: []activities.RuleSpec{
		{Name: "est", Metric: "estimated_performance.accuracy", ThresholdMode: config.ThresholdAuto, Severity: "warning"},
	}}
	band := map[string]activities.Band{"estimated_performance.accuracy": {Lower: 0.8, Upper: 0.9}}
	for _, tc := range []struct {
		name          string
		value         float64
		bands         map[string]activities.Band
		breached      bool
		hasValue      bool
		thresholdPart string
	}{
		{"inside", 0.85, band, false, true, "within the reference band [0.8, 0.9]"},
		{"below", 0.7, band, true, true, "within the reference band [0.8, 0.9]"},
		{"above", 0.95, band, true, true, "within the reference band"},
		{"no band", 0.1, nil, false, true, "reference band: none computed"},
		{"band note", 0.1, map[string]activities.Band{"estimated_performance.accuracy": {Note: "reference too small"}}, false, true, "reference band: reference too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := activities.AnalyzeResult{Rows: 1000, Metrics: map[string]float64{"estimated_performance.accuracy": tc.value}, Bands: tc.bands}
			rr := CheckRules(spec, res)[0]
			if rr.Breached != tc.breached || rr.HasValue != tc.hasValue || !strings.Contains(rr.Threshold, tc.thresholdPart) {
				t.Errorf("result %+v, want breached %v, threshold containing %q", rr, tc.breached, tc.thresholdPart)
			}
			if got := statusOf(spec, res, []activities.RuleResult{rr}); (got == StatusWarning) != tc.breached {
				t.Errorf("status %s", got)
			}
		})
	}
}

// A monitored window carries the row-level analyses end to end: the
// estimated accuracy and the reference bands reach the rules (threshold:
// auto), the weakest segment reaches the incident's evaluation.
func TestMonitorCarriesEstimatesSegmentsAndBands(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	row := func(weak bool) (x float64, seg string, score float64, pred, label int) {
		x = r.NormFloat64()
		seg = string(rune('a' + r.IntN(4)))
		score = 1 / (1 + math.Exp(-2*x))
		if score >= 0.5 {
			pred = 1
		}
		if r.Float64() < score {
			label = 1
		}
		if weak && seg == "d" && r.Float64() < 0.5 {
			label = 1 - pred // at chance on segment d
		}
		return
	}
	var ref, cur strings.Builder
	ref.WriteString("x,seg,score,prediction,label\n")
	for range 5000 {
		x, seg, score, pred, label := row(false)
		fmt.Fprintf(&ref, "%.5f,%s,%.5f,%d,%d\n", x, seg, score, pred, label)
	}
	for i := range 1000 {
		x, seg, score, pred, label := row(true)
		fmt.Fprintf(&cur, `{"event_id":"e%d","time":"2026-03-01T11:%02d:%02dZ","features":{"x":%.5f,"seg":"%s"},"score":%.5f,"prediction":%d,"label":%d}`+"\n",
			i, i/60%60, i%60, x, seg, score, pred, label)
	}
	hour := filepath.Join(dir, "pred", "2026", "03", "01", "11")
	if err := os.MkdirAll(hour, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ref.csv"), []byte(ref.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hour, "a.jsonl"), []byte(cur.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "vigil.yaml"), []byte(fmt.Sprintf(`
models:
  - name: churn
    task: binary
    schedule: {every: 1h, window: 1h}
    columns: {target: label, prediction: prediction, score: score}
    features: [x, seg]
    source: {uri: "file://%s/pred", format: jsonl}
    reference: {uri: "file://%s/ref.csv"}
    rules:
      - {name: estimated, metric: estimated_performance.accuracy, threshold: auto, severity: warning}
      - {name: realized, metric: performance.accuracy, threshold: auto, severity: warning}
`, dir, dir)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Storage.Reports = "file://" + filepath.Join(dir, "reports")
	acts := &activities.Activities{Config: func() *config.Config { return cfg }, Store: store.New(cfg.Storage)}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(acts)
	env.OnActivity(a.PublishMetrics, mock.Anything, mock.Anything).Return(nil)
	var got activities.Evaluation
	env.OnActivity(a.SignalIncident, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SignalIncidentInput) error {
			got = in.Evaluation
			return nil
		})
	env.ExecuteWorkflow(MonitorWorkflow, MonitorInput{Model: "churn", WindowEnd: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(got.WeakSegments) == 0 || !strings.HasPrefix(got.WeakSegments[0], "seg = d: accuracy") {
		t.Errorf("weak segments %q, want seg = d first", got.WeakSegments)
	}
	results := map[string]activities.RuleResult{}
	for _, rr := range got.Results {
		results[rr.Rule] = rr
	}
	if rr := results["estimated"]; !rr.HasValue || rr.Breached || !strings.HasPrefix(rr.Threshold, "within the reference band [") {
		t.Errorf("estimated accuracy rule %+v: want judged inside its band (the scores did not change)", rr)
	}
	if rr := results["realized"]; !rr.HasValue || !rr.Breached {
		t.Errorf("realized accuracy rule %+v: want breached (a quarter of the rows at chance)", rr)
	}
}
