package analysis_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/store/format"
)

func open(t *testing.T, path string) analysis.Rows {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rows, err := format.Open(f, "csv", format.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestAnalyzeEndToEnd runs two small CSV windows (missing value, type
// mismatch, unlabeled row, duplicate id, malformed line, a constant and an
// all-missing column, a category on one side only) through the reader and
// Analyze, and compares with pandas+scipy+sklearn (testdata/golden.py).
func TestAnalyzeEndToEnd(t *testing.T) {
	var exp struct {
		Features map[string]map[string]float64 `json:"features"`
		Perf     map[string]float64            `json:"performance"`
		Labeled  int64                         `json:"labeled"`
		Latency  map[string]float64            `json:"latency"`
		PredDrft map[string]float64            `json:"prediction_drift"`
	}
	b, err := os.ReadFile("testdata/e2e_expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	rep, err := analysis.Analyze(open(t, "testdata/e2e_ref.csv"), open(t, "testdata/e2e_cur.csv"), analysis.Options{
		Task: "binary", Target: "label", Prediction: "prediction", Score: "score", Latency: "latency_ms",
		DriftMethod: "ks", Categorical: []string{"plan"}})
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %.17g, want %.17g", what, got, want)
		}
	}
	for _, name := range []string{"age", "income", "flat"} {
		e := exp.Features[name]
		s, _ := rep.Metric("features." + name + ".drift.statistic")
		p, _ := rep.Metric("features." + name + ".drift.p_value")
		m, _ := rep.Metric("features." + name + ".missing_ratio")
		near(name+" ks", s, e["ks"])
		near(name+" p", p, e["ks_p"])
		near(name+" missing_ratio", m, e["missing_ratio"])
	}
	s, _ := rep.Metric("features.plan.drift.statistic")
	p, _ := rep.Metric("features.plan.drift.p_value")
	near("plan chisquare", s, exp.Features["plan"]["chisquare"])
	near("plan chisquare p", p, exp.Features["plan"]["chisquare_p"])
	for k, w := range exp.Perf {
		got, _ := rep.Metric("performance." + k)
		near(k, got, w)
	}
	for k, w := range exp.Latency {
		got, _ := rep.Metric("latency." + k)
		near(k, got, w)
	}
	ps, _ := rep.Metric("prediction_drift.statistic")
	near("prediction drift", ps, exp.PredDrft["ks"])
	want := map[string]float64{
		"rows.reference": 300, "rows.current": 250, "rows.invalid": 1, "rows.labeled": float64(exp.Labeled),
		"quality.type_mismatches": 1, "quality.duplicate_event_ids": 1, "quality.unseen_categories": 0,
		"quality.all_missing_columns": 1, "quality.constant_columns": 1,
	}
	// "enterprise" is categorical and only in the current window.
	var unseen float64
	for _, f := range rep.Features {
		if f.Name == "plan" {
			unseen = float64(f.Quality.UnseenCategories)
		}
	}
	if unseen == 0 {
		t.Errorf("plan: no unseen categories counted")
	}
	want["quality.unseen_categories"] = unseen
	for k, w := range want {
		got, ok := rep.Metric(k)
		if !ok || got != w {
			t.Errorf("%s = %v (%v), want %v", k, got, ok, w)
		}
	}
	// The report marshals to the contract's field names.
	js, _ := json.Marshal(rep)
	var generic map[string]any
	_ = json.Unmarshal(js, &generic)
	for _, k := range []string{"rows", "performance", "latency", "features", "dataset_drift"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("report JSON lacks %q", k)
		}
	}
	f0 := generic["features"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "kind", "missing_ratio", "drift"} {
		if _, ok := f0[k]; !ok {
			t.Errorf("feature JSON lacks %q", k)
		}
	}
	d := f0["drift"].(map[string]any)
	for _, k := range []string{"method", "statistic", "p_value", "threshold", "drifted"} {
		if _, ok := d[k]; !ok {
			t.Errorf("drift JSON lacks %q", k)
		}
	}
}
