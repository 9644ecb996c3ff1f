package analysis

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// memRows is an in-memory Rows for tests.
type memRows struct {
	cols []string
	data [][]string
	i    int
}

func newMemRows(cols []string, data [][]string) *memRows {
	return &memRows{cols: cols, data: data, i: -1}
}
func (m *memRows) Columns() []string { return m.cols }
func (m *memRows) Next() bool        { m.i++; return m.i < len(m.data) }
func (m *memRows) Row() []string     { return m.data[m.i] }
func (m *memRows) Invalid() int64    { return 0 }
func (m *memRows) Err() error        { return nil }

func strs(a any) []string {
	var out []string
	for _, x := range a.([]any) {
		switch v := x.(type) {
		case string:
			out = append(out, v)
		case float64:
			out = append(out, strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	return out
}

func analyzeColumns(t *testing.T, opts Options, cols []string, data ...[]string) *Report {
	t.Helper()
	var rows [][]string
	for i := range data[0] {
		r := make([]string, len(data))
		for j := range data {
			r[j] = data[j][i]
		}
		rows = append(rows, r)
	}
	rep, err := Analyze(newMemRows(cols, rows), newMemRows(cols, rows), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestGoldenBinaryMetrics(t *testing.T) {
	g := loadGolden(t)["binary"].(map[string]any)
	rep := analyzeColumns(t, Options{Task: TaskBinary, Target: "y", Prediction: "p", Score: "s"},
		[]string{"y", "p", "s"}, strs(g["y"]), strs(g["pred"]), strs(g["score"]))
	for _, k := range []string{"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"} {
		got, ok := rep.Metric("performance." + k)
		if !ok {
			t.Errorf("performance.%s missing", k)
		}
		check(t, k, got, num(g, k), tolSame)
	}
	if rep.Quality["score_non_finite"] != 2 {
		t.Errorf("score_non_finite = %v, want 2 (nan and inf)", rep.Quality["score_non_finite"])
	}
}

func TestGoldenMulticlassMetrics(t *testing.T) {
	g := loadGolden(t)["multiclass"].(map[string]any)
	rep := analyzeColumns(t, Options{Task: TaskMulticlass, Target: "y", Prediction: "p"},
		[]string{"y", "p"}, strs(g["y"]), strs(g["pred"]))
	for _, k := range []string{"accuracy", "f1_macro", "f1_weighted"} {
		got, _ := rep.Metric("performance." + k)
		check(t, k, got, num(g, k), tolSame)
	}
	labels := strs(g["labels"])
	if strings.Join(rep.Classes, ",") != strings.Join(labels, ",") {
		t.Fatalf("classes %v, want %v", rep.Classes, labels)
	}
	prec, rec := floats(g["precision"]), floats(g["recall"])
	for i, l := range labels {
		check(t, "precision "+l, rep.PerClass[l].Precision, prec[i], tolSame)
		check(t, "recall "+l, rep.PerClass[l].Recall, rec[i], tolSame)
	}
	b, _ := json.Marshal(g["confusion"])
	w, _ := json.Marshal(rep.ConfusionMatrix)
	if string(b) != string(w) {
		t.Errorf("confusion %s, want %s", w, b)
	}
}

func TestGoldenRegressionMetrics(t *testing.T) {
	g := loadGolden(t)["regression"].(map[string]any)
	rep := analyzeColumns(t, Options{Task: TaskRegression, Target: "y", Prediction: "p"},
		[]string{"y", "p"}, strs(g["y"]), strs(g["pred"]))
	for _, k := range []string{"mae", "mse", "rmse", "r2", "mape"} {
		got, _ := rep.Metric("performance." + k)
		check(t, k, got, num(g, k), tolSame)
	}
}

func TestMetricsEdgeCases(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		y, p, s  []string
		want     map[string]float64
		notThere []string
	}{
		{"single class: no roc_auc/log_loss, as sklearn raises",
			Options{Task: TaskBinary, Target: "y", Prediction: "p", Score: "s"},
			[]string{"1", "1", "1"}, []string{"1", "0", "1"}, []string{"0.9", "0.2", "0.7"},
			map[string]float64{"accuracy": 2.0 / 3, "precision": 1, "recall": 2.0 / 3}, []string{"roc_auc", "log_loss"}},
		{"nothing predicted positive: precision 0 (zero_division)",
			Options{Task: TaskBinary, Target: "y", Prediction: "p", Score: "s"},
			[]string{"1", "0", "0", "1"}, []string{"0", "0", "0", "0"}, []string{"0.1", "0.1", "0.1", "0.1"},
			map[string]float64{"precision": 0, "recall": 0, "f1": 0, "accuracy": 0.5, "roc_auc": 0.5}, nil},
		{"labels 1.0 and 1 are the same class",
			Options{Task: TaskBinary, Target: "y", Prediction: "p"},
			[]string{"1.0", "0.0"}, []string{"1", "0"}, []string{"", ""},
			map[string]float64{"accuracy": 1, "f1": 1}, nil},
		{"unlabeled rows are left out",
			Options{Task: TaskBinary, Target: "y", Prediction: "p"},
			[]string{"1", "", "0"}, []string{"1", "0", "1"}, []string{"", "", ""},
			map[string]float64{"accuracy": 0.5}, nil},
		{"constant target, perfect fit: r2 1",
			Options{Task: TaskRegression, Target: "y", Prediction: "p"},
			[]string{"2", "2"}, []string{"2", "2"}, []string{"", ""},
			map[string]float64{"r2": 1, "mae": 0}, nil},
		{"constant target, imperfect fit: r2 0",
			Options{Task: TaskRegression, Target: "y", Prediction: "p"},
			[]string{"2", "2"}, []string{"1", "3"}, []string{"", ""},
			map[string]float64{"r2": 0, "mae": 1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := analyzeColumns(t, tc.opts, []string{"y", "p", "s"}, tc.y, tc.p, tc.s)
			for k, w := range tc.want {
				got, ok := rep.Metric("performance." + k)
				if !ok || math.Abs(got-w) > 1e-12 {
					t.Errorf("%s = %v (%v), want %v", k, got, ok, w)
				}
			}
			for _, k := range tc.notThere {
				if v, ok := rep.Metric("performance." + k); ok {
					t.Errorf("%s = %v, want absent", k, v)
				}
			}
		})
	}
}

// A reference (a training set) without the score and latency columns of the
// production window still gives the window's latency percentiles and
// performance; the prediction drift is then the prediction column's.
func TestReferenceWithoutScoreAndLatency(t *testing.T) {
	ref := newMemRows([]string{"x", "label", "prediction"}, [][]string{
		{"1", "1", "1"}, {"2", "0", "0"}, {"3", "1", "0"}, {"4", "0", "0"}})
	cur := newMemRows([]string{"x", "label", "prediction", "score", "latency_ms"}, [][]string{
		{"1", "1", "1", "0.9", "10"}, {"2", "0", "0", "0.2", "12"}, {"3", "1", "1", "0.6", "30"}})
	rep, err := Analyze(ref, cur, Options{Task: TaskBinary, Target: "label", Prediction: "prediction", Score: "score", Latency: "latency_ms"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Latency == nil || rep.Latency.P50 != 12 {
		t.Errorf("latency %+v, want p50 12", rep.Latency)
	}
	if rep.Performance["accuracy"] != 1 || rep.Performance["roc_auc"] != 1 {
		t.Errorf("performance %v", rep.Performance)
	}
	if d := rep.PredictionDrift; d == nil || d.Name != "prediction" || d.Drift.Note != "" {
		t.Errorf("prediction drift %+v, want the prediction column's", d)
	}
}

// The ROC curve's points are sklearn.metrics.roc_curve's (drop_intermediate=
// False) when the scores have fewer distinct values than ROCPoints, from
// (1,1) down; the last point lies above every score (sklearn puts it at
// max+1 since 1.3, at +Inf since 1.4).
func TestROCCurveMatchesSklearn(t *testing.T) {
	labels := []int{0, 0, 1, 1, 0, 1, 1, 0, 1, 0}
	scores := []float64{0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.6, 0.2, 0.4, 0.55}
	// /usr/bin/python3 -c 'from sklearn.metrics import roc_curve; print(roc_curve(y, s, drop_intermediate=False))'
	want := []ROCPoint{{0.1, 1, 1}, {0.2, 0.8, 1}, {0.35, 0.6, 1}, {0.4, 0.6, 0.8}, {0.55, 0.2, 0.6}, {0.6, 0, 0.6}, {0.8, 0, 0.4}, {0.9, 0, 0.2}}
	var pos, neg []float64
	for i, s := range scores {
		if labels[i] == 1 {
			pos = append(pos, s)
		} else {
			neg = append(neg, s)
		}
	}
	got := rocCurve(sortedCopy(pos), nil, sortedCopy(neg), nil)
	if len(got) != len(want)+1 {
		t.Fatalf("%d points, want %d: %+v", len(got), len(want)+1, got)
	}
	for i, w := range want {
		if g := got[i]; g.Threshold != w.Threshold || math.Abs(g.FPR-w.FPR) > 1e-12 || math.Abs(g.TPR-w.TPR) > 1e-12 {
			t.Errorf("point %d = %+v, want %+v", i, g, w)
		}
	}
	if last := got[len(got)-1]; last.FPR != 0 || last.TPR != 0 || last.Threshold <= 0.9 {
		t.Errorf("last point %+v, want (0,0) above every score", last)
	}
}

// The histogram of a column covers both windows' values with shares that
// sum to 1 per side, and names categories by frequency, the rest in "(other)".
func TestHistogram(t *testing.T) {
	col := func(kind string, nums []float64, cats map[string]int64, other int64) *ColumnProfile {
		c := &ColumnProfile{Kind: kind, Categories: cats, Other: other}
		if kind == KindNumeric {
			c.Values = &Sample{Limit: 1000, Exact: make([]float64, 0, 16)}
			for _, v := range nums {
				c.addNumber(v)
			}
		}
		return c
	}
	h := histogram(col(KindNumeric, []float64{0, 1, 2, 3}, nil, 0), col(KindNumeric, []float64{10, 10}, nil, 0))
	if len(h.Edges) != HistogramBins+1 || h.Edges[0] != 0 || h.Edges[HistogramBins] != 10 || h.Current[HistogramBins-1] != 1 || h.Reference[0] != 0.25 {
		t.Errorf("numeric histogram %+v", h)
	}
	h = histogram(col(KindCategorical, nil, map[string]int64{"a": 3, "b": 1}, 0), col(KindCategorical, nil, map[string]int64{"b": 2}, 2))
	if strings.Join(h.Labels, ",") != "a,b,"+OtherLabel || h.Reference[0] != 0.75 || h.Current[1] != 0.5 || h.Current[2] != 0.5 {
		t.Errorf("categorical histogram %+v", h)
	}
}

// TestNumericHistogramCountsEveryValueInItsBin: the bins found by
// bisection of the sorted values hold exactly what binning each value
// gives, for exact samples and sketches, on continuous data, on ties, on
// values at the bin edges and on a constant column.
func TestNumericHistogramCountsEveryValueInItsBin(t *testing.T) {
	perValue := func(ref, cur *ColumnProfile, c *ColumnProfile) []float64 {
		lo, hi := math.Min(ref.Min, cur.Min), math.Max(ref.Max, cur.Max)
		bins := HistogramBins
		if lo == hi {
			bins = 1
		}
		v, w := c.Values.Sorted()
		out := make([]float64, bins)
		for i, x := range v {
			b := bins - 1
			if hi > lo {
				b = min(int((x-lo)/(hi-lo)*float64(bins)), bins-1)
			}
			out[b] += weightAt(w, i)
		}
		return shares(out)
	}
	profile := func(limit int, values []float64) *ColumnProfile {
		c := &ColumnProfile{Kind: KindNumeric, Values: newSample(limit, 64)}
		for _, v := range values {
			c.addNumber(v)
		}
		c.settle()
		return c
	}
	edges := make([]float64, 0, 3*(HistogramBins+1))
	for i := range HistogramBins + 1 {
		e := float64(i) / HistogramBins
		edges = append(edges, e, math.Nextafter(e, 0), math.Nextafter(e, 1))
	}
	normal := genSample(genSpec{Seed: 3, N: 5000, Kind: "normal", Scale: 1})
	ties := make([]float64, 5000)
	for i := range ties {
		ties[i] = math.Round(normal[i] * 2)
	}
	for name, data := range map[string][2][]float64{
		"continuous": {normal, genSample(genSpec{Seed: 4, N: 3000, Kind: "normal", Loc: 0.5, Scale: 2})},
		"ties":       {ties, ties[:1000]},
		"edges":      {edges, {0, 1, 0.5}},
		"constant":   {{2, 2, 2}, {2, 2}},
	} {
		for _, limit := range []int{1 << 20, 100} { // exact, then sketched
			ref, cur := profile(limit, data[0]), profile(limit, data[1])
			h := histogram(ref, cur)
			if want := perValue(ref, cur, ref); !slices.Equal(h.Reference, want) {
				t.Errorf("%s (limit %d): reference %v, binning each value %v", name, limit, h.Reference, want)
			}
			if want := perValue(ref, cur, cur); !slices.Equal(h.Current, want) {
				t.Errorf("%s (limit %d): current %v, binning each value %v", name, limit, h.Current, want)
			}
		}
	}
}
