package analysis

import (
	"testing"
)

func TestMetricPaths(t *testing.T) {
	p := 0.02
	rep := &Report{
		Rows:        RowCounts{Reference: 10, Current: 8, Invalid: 1, Labeled: 6},
		Performance: map[string]float64{"accuracy": 0.9},
		Latency:     &Latency{P50: 1, P95: 2, P99: 3},
		Throughput:  &Throughput{RowsPerSecond: 4},
		Features: []FeatureReport{
			{Name: "a.b", MissingRatio: 0.25, Drift: Drift{Method: MethodKS, Statistic: 0.5, PValue: &p}},
			{Name: "w", Drift: Drift{Method: MethodWasserstein, Statistic: 0.3}},
			{Name: "empty", Drift: Drift{Method: MethodKS, Note: "no values"}},
		},
		PredictionDrift: &FeatureReport{Drift: Drift{Statistic: 0.7}},
		DatasetDrift:    DatasetDrift{DriftedFeatures: 2, Share: 2.0 / 3},
		Quality:         map[string]float64{"type_mismatches": 5},
	}
	tests := []struct {
		path string
		want float64
		ok   bool
	}{
		{"rows.reference", 10, true},
		{"rows.current", 8, true},
		{"rows.invalid", 1, true},
		{"rows.labeled", 6, true},
		{"performance.accuracy", 0.9, true},
		{"performance.roc_auc", 0, false},
		{"latency.p50_ms", 1, true},
		{"latency.p95_ms", 2, true},
		{"latency.p99_ms", 3, true},
		{"throughput.rows_per_second", 4, true},
		{"dataset_drift.share", 2.0 / 3, true},
		{"dataset_drift.drifted_features", 2, true},
		{"prediction_drift.statistic", 0.7, true},
		{"features.a.b.drift.statistic", 0.5, true},
		{"features.a.b.drift.p_value", 0.02, true},
		{"features.a.b.missing_ratio", 0.25, true},
		{"features.w.drift.statistic", 0.3, true},
		{"features.w.drift.p_value", 0, false},
		{"features.empty.drift.statistic", 0, false},
		{"features.nope.missing_ratio", 0, false},
		{"quality.type_mismatches", 5, true},
		{"quality.nope", 0, false},
		{"bogus", 0, false},
	}
	for _, tc := range tests {
		got, ok := rep.Metric(tc.path)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Metric(%q) = %v, %v; want %v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBaselineCheck(t *testing.T) {
	ref := [][]string{{"1", "a"}, {"2", "b"}, {"3", "a"}, {"4", "b"}}
	cur := [][]string{{"0", "a"}, {"", "c"}, {"x", "a"}, {"9", "b"}}
	cols := []string{"n", "c"}
	b, err := BuildBaseline(newMemRows(cols, ref), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Features[0].Constraints; *got.Min != 1 || *got.Max != 4 || got.Completeness != 1 || got.DriftMethod != MethodKS {
		t.Errorf("numeric constraints %+v", got)
	}
	if got := b.Features[1].Constraints.AllowedCategories; len(got) != 2 {
		t.Errorf("allowed categories %v", got)
	}
	rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), Options{Baseline: b})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"n/kind": true, "n/completeness": true, "n/range": true, "c/categories": true}
	got := map[string]bool{}
	for _, v := range rep.Violations {
		got[v.Feature+"/"+v.Constraint] = true
	}
	for k := range want {
		if !got[k] {
			t.Errorf("missing violation %s in %+v", k, rep.Violations)
		}
	}
}

func TestThroughputAndDuplicates(t *testing.T) {
	cols := []string{"event_id", "time", "x"}
	cur := [][]string{
		{"e1", "2026-01-01T00:00:00Z", "1"},
		{"e2", "2026-01-01T00:00:01Z", "2"},
		{"e1", "2026-01-01T00:00:02Z", "3"},
		{"e3", "bad time", "4"},
	}
	rep, err := Analyze(newMemRows(cols, cur), newMemRows(cols, cur), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := rep.Metric("throughput.rows_per_second"); !ok || v != 2 {
		t.Errorf("throughput %v %v, want 4 rows / 2 s", v, ok)
	}
	if v, _ := rep.Metric("quality.duplicate_event_ids"); v != 1 {
		t.Errorf("duplicates %v, want 1", v)
	}
	if len(rep.Features) != 1 || rep.Features[0].Name != "x" {
		t.Errorf("event_id and time must not be features: %+v", rep.Features)
	}
}
