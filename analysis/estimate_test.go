package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// scoredRows makes a binary classification data set: features x0..x3
// (normal, x0 shifted by shift), a category cat in a..d, the true
// probability sigmoid(2·x0 + x1 − 0.5) of class 1, a score that is that
// probability sharpened by slope/2 (slope 2: calibrated; 4: overconfident),
// the label drawn from the true probability, and pred = score >= 0.5.
// planted, when set, makes rows with cat = "d" right only half of the time
// and the rest right 95% of the time (the label then depends on the
// prediction, not on the probability).
func scoredRows(seed uint64, n int, shift, slope float64, planted bool) ([]string, [][]string) {
	r := rand.New(rand.NewPCG(seed, 17))
	cols := []string{"x0", "x1", "x2", "x3", "cat", "score", "pred", "y"}
	rows := make([][]string, n)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	for i := range rows {
		x := []float64{r.NormFloat64() + shift, r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		cat := string(rune('a' + r.IntN(4)))
		logit := 2*x[0] + x[1] - 0.5
		p := 1 / (1 + math.Exp(-logit))
		s := 1 / (1 + math.Exp(-logit*slope/2))
		pred := s >= 0.5
		y := r.Float64() < p
		if planted {
			right := 0.95
			if cat == "d" {
				right = 0.5
			}
			y = pred == (r.Float64() < right)
		}
		rows[i] = []string{f(x[0]), f(x[1]), f(x[2]), f(x[3]), cat, f(s), b01(pred), b01(y)}
	}
	return cols, rows
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

var binaryOpts = Options{Task: TaskBinary, Target: "y", Prediction: "pred", Score: "score"}

// Issue 17, acceptance 1: on calibrated data with covariate shift, the
// estimated accuracy is within 0.02 of the realized one on 5,000-row
// windows, and the band covers the realized value in at least 90% of them.
// The same holds for overconfident scores, which the reference's isotonic
// calibration repairs.
func TestCBPEEstimatesAccuracyUnderCovariateShift(t *testing.T) {
	for _, tc := range []struct {
		name       string
		slope      float64
		calibrated bool // whether CBPE must fit a calibration
	}{
		{"calibrated scores", 2, false},
		{"overconfident scores", 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cols, ref := scoredRows(1, 20000, 0, tc.slope, false)
			// the reference is profiled once and compared with every window,
			// as a sharded analysis does
			schema, err := InferSchema(cols, ref[:SchemaSampleRows], binaryOpts)
			if err != nil {
				t.Fatal(err)
			}
			refP, err := ProfileRows(newMemRows(cols, ref), schema, binaryOpts)
			if err != nil {
				t.Fatal(err)
			}
			windows, covered := 20, 0
			for w := range windows {
				_, cur := scoredRows(uint64(100+w), 5000, 0.3+0.05*float64(w%5), tc.slope, false)
				curP, err := ProfileRows(newMemRows(cols, cur), schema, binaryOpts)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := CompareProfiles(refP, curP, binaryOpts)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Estimation == nil || rep.Estimation.Calibrated != tc.calibrated {
					t.Fatalf("estimation %+v, want calibrated=%v", rep.Estimation, tc.calibrated)
				}
				est, real := rep.EstimatedPerformance["accuracy"], rep.Performance["accuracy"]
				if d := math.Abs(est.Value - real); d > 0.02 {
					t.Errorf("window %d: estimated accuracy %.4f, realized %.4f (off by %.4f > 0.02)", w, est.Value, real, d)
				}
				if est.Lower <= real && real <= est.Upper {
					covered++
				}
			}
			if covered < windows*9/10 {
				t.Errorf("band covered the realized accuracy in %d of %d windows, want >= 90%%", covered, windows)
			}
		})
	}
}

// Estimated performance is computed when the window has no labels at all,
// and is reachable by rules as estimated_performance.<metric>.
func TestCBPEWithoutLabels(t *testing.T) {
	cols, ref := scoredRows(1, 10000, 0, 2, false)
	_, cur := scoredRows(2, 3000, 0.5, 2, false)
	for _, r := range cur {
		r[7] = ""
	}
	rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), binaryOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rep.Performance["accuracy"]; ok {
		t.Errorf("realized accuracy without labels: %v", rep.Performance)
	}
	for _, m := range []string{"accuracy", "precision", "recall", "f1", "roc_auc"} {
		v, ok := rep.Metric("estimated_performance." + m)
		if !ok || v <= 0 || v > 1 {
			t.Errorf("estimated_performance.%s = %v, %v", m, v, ok)
		}
	}
	if rep.Estimation.Rows != 3000 {
		t.Errorf("estimated on %d rows, want 3000", rep.Estimation.Rows)
	}
}

// Issue 17, acceptance 2: a slice where the model is at chance while it is
// 95% right elsewhere comes out first (with labels; without them see
// TestWeakSegmentsEstimatedWithoutLabels).
func TestWeakSegmentsFindPlantedSlice(t *testing.T) {
	cols, ref := scoredRows(1, 10000, 0, 2, false)
	_, cur := scoredRows(3, 5000, 0, 2, true)
	rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), binaryOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Segments) == 0 {
		t.Fatal("no segments")
	}
	s := rep.Segments[0]
	if s.Filter != "cat = d" || s.Metric != "accuracy" || math.Abs(s.Value-0.5) > 0.05 || s.Delta > -0.4 || s.PValue > 1e-6 {
		t.Errorf("first segment %+v, want cat = d at about 0.5 accuracy", s)
	}
	if s.Rows < 1000 || s.Rows > 1500 {
		t.Errorf("segment rows %d, want about a quarter of 5000", s.Rows)
	}
}

// uncertainSliceRows is scoredRows (calibrated scores, no shift) where the
// model is at chance on the rows with cat = "d" and knows it: their score
// is 0.5 ± 0.05 and their label a fair coin. labeled false leaves y blank.
func uncertainSliceRows(seed uint64, n int, labeled bool) ([]string, [][]string) {
	cols, rows := scoredRows(seed, n, 0, 2, false)
	r := rand.New(rand.NewPCG(seed, 31))
	for _, row := range rows {
		if row[4] == "d" {
			s := 0.45 + 0.1*r.Float64()
			row[5], row[6], row[7] = strconv.FormatFloat(s, 'f', 6, 64), b01(s >= 0.5), b01(r.IntN(2) == 0)
		}
		if !labeled {
			row[7] = ""
		}
	}
	return cols, rows
}

// Issue 17, acceptance 2 without labels: in a binary window with no labels
// the weak segments come from the calibrated probability that each
// prediction is right (metric estimated_accuracy), and a slice where the
// model is at chance (and its scores say so) comes out first, where the
// labels, had they arrived, put it too.
func TestWeakSegmentsEstimatedWithoutLabels(t *testing.T) {
	cols, ref := uncertainSliceRows(1, 10000, true)
	_, blind := uncertainSliceRows(2, 5000, false)
	rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, blind), binaryOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Segments) == 0 {
		t.Fatal("no segments without labels")
	}
	s := rep.Segments[0]
	if s.Filter != "cat = d" || s.Metric != "estimated_accuracy" || math.Abs(s.Value-0.5) > 0.05 || s.Delta > -0.2 || s.PValue > 1e-6 {
		t.Errorf("first segment %+v, want cat = d at an estimated accuracy of about 0.5", s)
	}
	_, labeled := uncertainSliceRows(2, 5000, true)
	rep, err = Analyze(newMemRows(cols, ref), newMemRows(cols, labeled), binaryOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Segments) == 0 || rep.Segments[0].Filter != "cat = d" || rep.Segments[0].Metric != "accuracy" {
		t.Errorf("with labels: segments %+v, want cat = d first on realized accuracy", rep.Segments)
	}
}

// Without a planted slice no segment survives the multiple-testing
// correction.
func TestWeakSegmentsQuietWithoutWeakSlice(t *testing.T) {
	cols, ref := scoredRows(1, 10000, 0, 2, false)
	// every row right with probability 0.9, whatever its features
	_, cur := scoredRows(4, 5000, 0, 2, false)
	r := rand.New(rand.NewPCG(5, 5))
	for _, row := range cur {
		right := r.Float64() < 0.9
		row[7] = b01((row[6] == "1") == right)
	}
	rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), binaryOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Segments) != 0 {
		t.Errorf("segments on a uniformly good model: %+v", rep.Segments)
	}
}

func TestWeakSegmentsRegressionMAE(t *testing.T) {
	cols := []string{"x0", "region", "y", "yhat"}
	mk := func(seed uint64, n int, planted bool) [][]string {
		r := rand.New(rand.NewPCG(seed, 1))
		rows := make([][]string, n)
		for i := range rows {
			x := r.NormFloat64()
			region := []string{"north", "south", "east", "west"}[r.IntN(4)]
			noise := 0.1
			if planted && region == "east" {
				noise = 1
			}
			y := 3 * x
			rows[i] = []string{strconv.FormatFloat(x, 'f', 5, 64), region,
				strconv.FormatFloat(y, 'f', 5, 64), strconv.FormatFloat(y+noise*r.NormFloat64(), 'f', 5, 64)}
		}
		return rows
	}
	opts := Options{Task: TaskRegression, Target: "y", Prediction: "yhat"}
	rep, err := Analyze(newMemRows(cols, mk(1, 5000, false)), newMemRows(cols, mk(2, 4000, true)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Segments) == 0 || rep.Segments[0].Filter != "region = east" || rep.Segments[0].Metric != "mae" || rep.Segments[0].Delta <= 0 {
		t.Fatalf("segments %+v, want region = east first with a higher mae", rep.Segments)
	}
}

// correlatedRows draws x0, x1 with correlation rho and unit marginals
// (plus independent x2, x3), so that flipping rho leaves every marginal
// unchanged.
func correlatedRows(seed uint64, n int, rho float64) ([]string, [][]string) {
	r := rand.New(rand.NewPCG(seed, 3))
	cols := []string{"x0", "x1", "x2", "x3"}
	rows := make([][]string, n)
	for i := range rows {
		a, b := r.NormFloat64(), r.NormFloat64()
		x := []float64{a, rho*a + math.Sqrt(1-rho*rho)*b, r.NormFloat64(), r.NormFloat64()}
		row := make([]string, len(x))
		for j, v := range x {
			row[j] = strconv.FormatFloat(v, 'f', 6, 64)
		}
		rows[i] = row
	}
	return cols, rows
}

// Issue 17, acceptance 3: the domain classifier catches a correlation that
// flips sign while every marginal stays the same (no feature drifts), and
// stays quiet on stationary data.
func TestMultivariateDriftCatchesCorrelationFlip(t *testing.T) {
	opts := Options{MultivariateDrift: true}
	cols, ref := correlatedRows(1, 10000, 0.8)
	_, cur := correlatedRows(2, 5000, -0.8)
	rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.DatasetDrift.DriftedFeatures != 0 {
		t.Errorf("%d features drifted on unchanged marginals", rep.DatasetDrift.DriftedFeatures)
	}
	md := rep.MultivariateDrift
	if md == nil || !md.Drifted || md.Statistic < 0.8 || md.Method != "domain_classifier" || md.Features != 4 {
		t.Fatalf("multivariate drift %+v, want drifted with AUROC >= 0.8", md)
	}
	if v, ok := rep.Metric("multivariate_drift.statistic"); !ok || v != md.Statistic {
		t.Errorf("Metric(multivariate_drift.statistic) = %v, %v", v, ok)
	}
}

func TestMultivariateDriftQuietOnStationaryData(t *testing.T) {
	opts := Options{MultivariateDrift: true}
	cols, ref := correlatedRows(1, 10000, 0.8)
	for _, n := range []int{200, 1000, 5000} {
		for seed := uint64(10); seed < 20; seed++ {
			_, cur := correlatedRows(seed, n, 0.8)
			rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), opts)
			if err != nil {
				t.Fatal(err)
			}
			md := rep.MultivariateDrift
			if md == nil || md.Drifted {
				t.Errorf("n=%d seed %d: %+v on stationary data", n, seed, md)
			}
		}
	}
}

// mixedRows draws numeric x0, x1 and categorical a, b in {p, q}, each
// marginal the same in every mode: a and b fair coins, x0 and x1 a mixture
// of N(±1, 1) with equal weights. mode "stationary": b equals a 90% of the
// time and x0 is N(+1, 1) where a = p; "categories": b differs from a 90%
// of the time (the joint of two categorical features moves, nothing else);
// "category-number": x0 is N(−1, 1) where a = p (the relation of a
// category and a number moves). x1 is independent of the rest throughout.
func mixedRows(seed uint64, n int, mode string) ([]string, [][]string) {
	r := rand.New(rand.NewPCG(seed, 29))
	cols := []string{"x0", "x1", "a", "b"}
	rows := make([][]string, n)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	for i := range rows {
		a := r.IntN(2) == 0
		same := r.Float64() < 0.9
		if mode == "categories" {
			same = !same
		}
		b := a == same
		sign := 1.0
		if a != (mode == "category-number") {
			sign = -1
		}
		x1 := 1.0
		if r.IntN(2) == 0 {
			x1 = -1
		}
		pq := func(v bool) string {
			if v {
				return "p"
			}
			return "q"
		}
		rows[i] = []string{f(sign + r.NormFloat64()), f(x1 + r.NormFloat64()), pq(a), pq(b)}
	}
	return cols, rows
}

// The domain classifier sees categorical features: a shift in the joint of
// two categorical features, or in the relation between a category and a
// number, with every marginal unchanged (no feature drifts), is caught.
func TestMultivariateDriftCatchesCategoricalJointShift(t *testing.T) {
	opts := Options{MultivariateDrift: true}
	cols, ref := mixedRows(1, 10000, "stationary")
	for _, mode := range []string{"categories", "category-number"} {
		_, cur := mixedRows(2, 5000, mode)
		rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.DatasetDrift.DriftedFeatures != 0 {
			t.Errorf("%s: %d features drifted on unchanged marginals", mode, rep.DatasetDrift.DriftedFeatures)
		}
		md := rep.MultivariateDrift
		t.Logf("%s: %+v", mode, md)
		if md == nil || !md.Drifted || md.Statistic < 0.7 || md.Features != 4 || md.CategoricalFeatures != 2 || md.LeftOut != 0 {
			t.Errorf("%s: multivariate drift %+v, want drifted with AUROC >= 0.7 over 4 features, 2 categorical", mode, md)
		}
		// the numeric features alone cannot tell: the categorical inputs
		// do the work
		rep, err = Analyze(newMemRows(cols[:2], firstTwo(ref)), newMemRows(cols[:2], firstTwo(cur)), opts)
		if err != nil {
			t.Fatal(err)
		}
		if md := rep.MultivariateDrift; md == nil || md.Drifted {
			t.Errorf("%s: numeric features alone: %+v, want no drift", mode, md)
		}
	}
}

func firstTwo(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = r[:2]
	}
	return out
}

// On stationary data with numeric and categorical features, 30 windows of
// 200 to 5,000 rows stay quiet.
func TestMultivariateDriftQuietOnStationaryMixedData(t *testing.T) {
	opts := Options{MultivariateDrift: true}
	cols, ref := mixedRows(1, 10000, "stationary")
	for _, n := range []int{200, 1000, 5000} {
		for seed := uint64(10); seed < 20; seed++ {
			_, cur := mixedRows(seed, n, "stationary")
			rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), opts)
			if err != nil {
				t.Fatal(err)
			}
			md := rep.MultivariateDrift
			if md == nil || md.Drifted || md.CategoricalFeatures != 2 {
				t.Errorf("n=%d seed %d: %+v on stationary data", n, seed, md)
			}
		}
	}
}

// Without a task, MultivariateDrift or BandMetrics no rows are sampled: the
// additions cost nothing when not wanted.
func TestNoRowSampleUnlessWanted(t *testing.T) {
	cols, ref := correlatedRows(1, 500, 0)
	schema, err := InferSchema(cols, ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ProfileRows(newMemRows(cols, ref), schema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Sample != nil {
		t.Error("row sample kept for a drift-only analysis")
	}
	p, err = ProfileRows(newMemRows(cols, ref), schema, Options{MultivariateDrift: true, RowSample: -1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Sample != nil {
		t.Error("row sample kept with RowSample < 0")
	}
}

// Shards of a window merge into a uniform sample of the whole window: K
// rows, each shard represented in proportion to its size, whatever the
// order of merging.
func TestRowSampleMergesShardsUniformly(t *testing.T) {
	cols, rows := correlatedRows(1, 3000, 0)
	opts := Options{MultivariateDrift: true, RowSample: 500}
	schema, err := InferSchema(cols, rows, opts)
	if err != nil {
		t.Fatal(err)
	}
	shard := func(rs [][]string) *Profile {
		p, err := ProfileRows(newMemRows(cols, rs), schema, opts)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ab, ba := shard(rows[:1234]), shard(rows[1234:])
	if err := ab.Merge(shard(rows[1234:])); err != nil {
		t.Fatal(err)
	}
	if err := ba.Merge(shard(rows[:1234])); err != nil {
		t.Fatal(err)
	}
	first := map[string]bool{}
	for _, r := range rows[:1234] {
		first[strings.Join(r, ",")] = true
	}
	join := func(s *RowSample) []string {
		var out []string
		for _, r := range s.sorted() {
			out = append(out, strings.Join(r, ","))
		}
		return out
	}
	got := join(ab.Sample)
	if len(got) != 500 || !slices.Equal(got, join(ba.Sample)) {
		t.Fatalf("merged samples: %d rows, order-dependent: %v", len(got), !slices.Equal(got, join(ba.Sample)))
	}
	n := 0
	for _, r := range got {
		if first[r] {
			n++
		}
	}
	// binomial(500, 1234/3000): mean 206, sd 11
	if n < 206-35 || n > 206+35 {
		t.Errorf("%d of 500 sampled rows from the first shard, want about 206", n)
	}
}

// Issue 17, acceptance 4: threshold auto — the band of a metric over
// reference chunks of the window's size holds a stationary window's value
// and not a degraded one's.
func TestReferenceBands(t *testing.T) {
	cols, ref := scoredRows(1, 20000, 0, 2, false)
	opts := binaryOpts
	opts.BandMetrics = []string{"performance.accuracy", "features.x2.drift.statistic", "estimated_performance.accuracy"}
	opts.RowSample = 20000
	_, good := scoredRows(7, 2000, 0, 2, false)
	rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, good), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range opts.BandMetrics {
		b := rep.Bands[m]
		v, _ := rep.Metric(m)
		if b.Note != "" || b.Chunks != 10 || b.ChunkRows != 2000 || !(b.Lower <= v && v <= b.Upper) || b.Upper <= b.Lower {
			t.Errorf("%s = %v, band %+v: want the stationary value inside 10 chunks' band", m, v, b)
		}
	}
	// the model is wrong on a fifth of the rows it used to get right
	_, bad := scoredRows(8, 2000, 0, 2, false)
	r := rand.New(rand.NewPCG(9, 9))
	for _, row := range bad {
		if row[6] == row[7] && r.Float64() < 0.2 {
			row[7] = b01(row[7] == "0")
		}
	}
	rep, err = Analyze(newMemRows(cols, ref), newMemRows(cols, bad), opts)
	if err != nil {
		t.Fatal(err)
	}
	if b, v := rep.Bands["performance.accuracy"], rep.Performance["accuracy"]; v >= b.Lower {
		t.Errorf("degraded accuracy %v inside band %+v", v, b)
	}
	// a window too large for ten chunks of the reference sample gets
	// resampled chunks
	_, big := scoredRows(10, 5000, 0, 2, false)
	rep, err = Analyze(newMemRows(cols, ref), newMemRows(cols, big), opts)
	if err != nil {
		t.Fatal(err)
	}
	if b := rep.Bands["performance.accuracy"]; !b.Resampled || b.Chunks != 10 || b.Upper <= b.Lower {
		t.Errorf("band %+v, want 10 resampled chunks", b)
	}
	// a reference too small for any band says so
	rep, err = Analyze(newMemRows(cols, ref[:300]), newMemRows(cols, good), opts)
	if err != nil {
		t.Fatal(err)
	}
	if b := rep.Bands["performance.accuracy"]; b.Note == "" || b.Chunks != 0 {
		t.Errorf("band %+v, want a note", b)
	}
}

func TestRowEncodingRoundTrips(t *testing.T) {
	rows := [][]string{
		{"a", "", "1.5"},
		{"nul\x00inside", "\x01", "\x01\x02", ""},
		{""},
	}
	// sorted decodes a whole sample, in key order.
	s := &RowSample{K: len(rows)}
	var arena rowArena
	for i, cells := range rows {
		s.add(uint64(len(rows)-i), arena.encodeRow(cells, nil))
	}
	if got := s.sorted(); !slices.EqualFunc(got, [][]string{rows[2], rows[1], rows[0]}, slices.Equal) {
		t.Errorf("sorted sample = %q", got)
	}
	for _, cells := range rows {
		var a rowArena
		got := decodeRow(a.encodeRow(cells, nil))
		if !slices.Equal(got, cells) {
			t.Errorf("%q round-trips to %q", cells, got)
		}
		// Laid out by an index, with a column the row does not have.
		got = decodeRow(a.encodeRow(cells, []int{len(cells) - 1, 99, 0}))
		if want := []string{cells[len(cells)-1], "", cells[0]}; !slices.Equal(got, want) {
			t.Errorf("%q laid out by index round-trips to %q, want %q", cells, got, want)
		}
	}
}

// heteroscedasticRows makes a regression data set whose error grows with
// |x0|: y = 2·x0 + x1 + (0.2 + |x0|)·ε, prediction 2·x0 + x1, x0 shifted by
// shift.
func heteroscedasticRows(seed uint64, n int, shift float64) ([]string, [][]string) {
	r := rand.New(rand.NewPCG(seed, 11))
	cols := []string{"x0", "x1", "x2", "y", "yhat"}
	rows := make([][]string, n)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	for i := range rows {
		x0, x1, x2 := r.NormFloat64()+shift, r.NormFloat64(), r.NormFloat64()
		yhat := 2*x0 + x1
		y := yhat + (0.2+math.Abs(x0))*r.NormFloat64()
		rows[i] = []string{f(x0), f(x1), f(x2), f(y), f(yhat)}
	}
	return cols, rows
}

// DLE for regression: under covariate shift into the region where the model
// errs more, the estimated MAE and RMSE follow the realized ones (within 5%
// on 5,000-row windows) and the bands cover them in at least 90% of windows.
func TestDLEEstimatesRegressionErrorUnderCovariateShift(t *testing.T) {
	opts := Options{Task: TaskRegression, Target: "y", Prediction: "yhat"}
	cols, ref := heteroscedasticRows(1, 20000, 0)
	schema, err := InferSchema(cols, ref[:SchemaSampleRows], opts)
	if err != nil {
		t.Fatal(err)
	}
	refP, err := ProfileRows(newMemRows(cols, ref), schema, opts)
	if err != nil {
		t.Fatal(err)
	}
	windows := 20
	covered := map[string]int{}
	for w := range windows {
		_, cur := heteroscedasticRows(uint64(200+w), 5000, 0.2+0.1*float64(w%5))
		curP, err := ProfileRows(newMemRows(cols, cur), schema, opts)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := CompareProfiles(refP, curP, opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Estimation == nil || rep.Estimation.Method != "dle" {
			t.Fatalf("estimation %+v, want dle", rep.Estimation)
		}
		for _, m := range []string{"mae", "rmse"} {
			est, real := rep.EstimatedPerformance[m], rep.Performance[m]
			if d := math.Abs(est.Value-real) / real; d > 0.05 {
				t.Errorf("window %d: estimated %s %.4f, realized %.4f (off by %.1f%%)", w, m, est.Value, real, 100*d)
			}
			if est.Lower <= real && real <= est.Upper {
				covered[m]++
			}
		}
	}
	for _, m := range []string{"mae", "rmse"} {
		if covered[m] < windows*9/10 {
			t.Errorf("%s band covered the realized value in %d of %d windows, want >= 90%%", m, covered[m], windows)
		}
	}
}
