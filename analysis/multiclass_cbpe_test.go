package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// threeClassWindow draws n rows of a 3-class task whose features are shifted
// by shift: the model's probabilities are the true ones (a calibrated
// model), its prediction their argmax, and each label is drawn from them.
func threeClassWindow(seed uint64, n int, shift float64) (prob [][]float64, pred, label []int) {
	return sharpClassWindow(seed, n, shift, 1)
}

// sharpClassWindow is threeClassWindow with the model's logits multiplied by
// sharp (> 1: overconfident, < 1: underconfident, 1: calibrated); the
// labels are still drawn from the true probabilities, and the prediction
// (the argmax) is the same whatever sharp.
func sharpClassWindow(seed uint64, n int, shift, sharp float64) (prob [][]float64, pred, label []int) {
	r := rand.New(rand.NewPCG(seed, 3))
	w := [3][2]float64{{1.5, 0}, {-0.8, 1.3}, {-0.7, -1.3}}
	for range n {
		x := [2]float64{r.NormFloat64() + shift, r.NormFloat64() - shift/2}
		p, m := make([]float64, 3), make([]float64, 3)
		var sum, msum float64
		for c := range p {
			z := w[c][0]*x[0] + w[c][1]*x[1]
			p[c], m[c] = math.Exp(z), math.Exp(sharp*z)
			sum += p[c]
			msum += m[c]
		}
		best := 0
		for c := range p {
			p[c] /= sum
			m[c] /= msum
			if p[c] > p[best] {
				best = c
			}
		}
		u, y := r.Float64(), 0
		for ; y < 2 && u >= p[y]; y++ {
			u -= p[y]
		}
		prob, pred, label = append(prob, m), append(pred, best), append(label, y)
	}
	return prob, pred, label
}

// With calibrated class probabilities, the estimated accuracy of a 3-class
// model follows the realized one through a covariate shift that moves it,
// within 0.02 on 5,000-row windows, and its band covers the realized value
// in at least 90% of windows.
func TestMulticlassCBPEEstimatesAccuracyUnderCovariateShift(t *testing.T) {
	windows, covered := 20, 0
	for w := range windows {
		prob, pred, label := threeClassWindow(uint64(200+w), 5000, 0.3*float64(w%5))
		est := MulticlassCBPE(prob, prob, pred)["accuracy"]
		var right float64
		for i := range pred {
			if pred[i] == label[i] {
				right++
			}
		}
		real := right / float64(len(pred))
		t.Logf("window %d: estimated %.4f [%.4f, %.4f], realized %.4f", w, est.Value, est.Lower, est.Upper, real)
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
}

// Rows without a predicted class, or a window where a class is never
// possible, do not make a wrong number: the AUC is left out rather than
// averaged over classes it cannot rank.
func TestMulticlassCBPEWithoutAClassLeavesAUCOut(t *testing.T) {
	prob := [][]float64{{0.7, 0.3, 0}, {0.2, 0.8, 0}, {0.6, 0.4, 0}, {0.5, 0.5, 0}}
	est := MulticlassCBPE(prob, prob, []int{0, 1, 0, -1})
	if _, ok := est["roc_auc"]; ok {
		t.Errorf("roc_auc estimated with a class of zero probability everywhere: %+v", est["roc_auc"])
	}
	if got, want := est["accuracy"].Value, (0.7+0.8+0.6)/3; math.Abs(got-want) > 1e-12 {
		t.Errorf("accuracy %g, want %g", got, want)
	}
	if MulticlassCBPE(nil, nil, nil) != nil {
		t.Error("an empty window has estimates")
	}
	if est := MulticlassCBPE(prob[:1], prob[:1], []int{-1}); est != nil {
		t.Errorf("a window without predictions has estimates %+v", est)
	}
}

// classRows lays threeClassWindow out as records: a feature, the model's
// probability of each class (p_a, p_b, p_c), its prediction and the label,
// blank when labeled is false.
func classRows(seed uint64, n int, shift float64, labeled bool) ([]string, [][]string) {
	return sharpClassRows(seed, n, shift, 1, labeled)
}

// sharpClassRows lays sharpClassWindow out as classRows does.
func sharpClassRows(seed uint64, n int, shift, sharp float64, labeled bool) ([]string, [][]string) {
	names := []string{"a", "b", "c"}
	prob, pred, label := sharpClassWindow(seed, n, shift, sharp)
	rows := make([][]string, n)
	for i := range rows {
		y := ""
		if labeled {
			y = names[label[i]]
		}
		rows[i] = []string{strconv.Itoa(i % 7), ff(prob[i][0]), ff(prob[i][1]), ff(prob[i][2]), names[pred[i]], y}
	}
	return []string{"x", "p_a", "p_b", "p_c", "prediction", "label"}, rows
}

func ff(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

var multiclassOpts = Options{Task: TaskMulticlass, Target: "label", Prediction: "prediction",
	ClassScores: map[string]string{"a": "p_a", "b": "p_b", "c": "p_c"}}

// Through Analyze, a multiclass model with class-score columns gets
// estimated_performance on a window without labels, and its estimated
// accuracy is within 0.03 of the accuracy the same window's labels give.
func TestAnalyzeEstimatesMulticlassPerformanceWithoutLabels(t *testing.T) {
	cols, ref := classRows(1, 5000, 0, true)
	for _, shift := range []float64{0, 0.6, 1.2} {
		_, labeled := classRows(7, 5000, shift, true)
		_, blind := classRows(7, 5000, shift, false)
		withLabels, err := Analyze(newMemRows(cols, ref), newMemRows(cols, labeled), multiclassOpts)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, blind), multiclassOpts)
		if err != nil {
			t.Fatal(err)
		}
		realized, ok := withLabels.Performance["accuracy"]
		if !ok {
			t.Fatalf("shift %v: no realized accuracy with labels: %v", shift, withLabels.Performance)
		}
		if _, ok := rep.Performance["accuracy"]; ok {
			t.Errorf("shift %v: realized accuracy without labels: %v", shift, rep.Performance)
		}
		est, ok := rep.Metric("estimated_performance.accuracy")
		if !ok {
			t.Fatalf("shift %v: no estimated_performance.accuracy: %v", shift, rep.EstimatedPerformance)
		}
		t.Logf("shift %v: estimated accuracy %.4f, realized %.4f", shift, est, realized)
		if d := math.Abs(est - realized); d > 0.03 {
			t.Errorf("shift %v: estimated accuracy %.4f, realized %.4f (off by %.4f > 0.03)", shift, est, realized, d)
		}
		for _, m := range []string{"precision", "recall", "f1", "roc_auc"} {
			if v, ok := rep.Metric("estimated_performance." + m); !ok || v <= 0 || v > 1 {
				t.Errorf("shift %v: estimated_performance.%s = %v, %v", shift, m, v, ok)
			}
		}
		if rep.Estimation == nil || rep.Estimation.Method != "cbpe" || rep.Estimation.Rows != 5000 {
			t.Errorf("shift %v: estimation %+v, want cbpe on 5000 rows", shift, rep.Estimation)
		}
		for _, f := range rep.Features {
			if strings.HasPrefix(f.Name, "p_") {
				t.Errorf("shift %v: class-score column %s analysed as a feature", shift, f.Name)
			}
		}
	}
}

// Class scores are a multiclass option with at least two classes.
func TestClassScoresValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"binary", Options{Task: TaskBinary, Target: "y", Prediction: "p", ClassScores: map[string]string{"a": "pa", "b": "pb"}}, "need task multiclass"},
		{"one class", Options{Task: TaskMulticlass, Target: "y", Prediction: "p", ClassScores: map[string]string{"a": "pa"}}, "at least 2 classes"},
		{"empty column", Options{Task: TaskMulticlass, Target: "y", Prediction: "p", ClassScores: map[string]string{"a": "pa", "b": ""}}, "non-empty"},
		{"ok", multiclassOpts, ""},
	} {
		err := tc.opts.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Issue 17, acceptance 1 for multiclass: with overconfident class
// probabilities (logits doubled), the calibration fitted on the reference
// (MulticlassCalibration) makes the estimated accuracy follow the realized
// one through a covariate shift, within 0.02 on 5,000-row windows, the band
// covering the realized value in at least 90% of them, where the raw
// probabilities miss it by more than 0.1; calibrated probabilities are
// left as they are. Underconfident probabilities (logits halved) stay
// within 0.02 too, but the band covers only 17 of 20 windows: the
// calibration is one-dimensional per predicted class, and the shift moves
// rows along what it cannot see (at the largest shift the estimate is
// 0.01–0.02 high), so there the bar is 15 of 20.
func TestMulticlassCBPECalibratesOnTheReference(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sharp      float64
		calibrated bool
		covered    int // windows of 20 the band must cover
	}{
		{"calibrated", 1, false, 18},
		{"overconfident", 2, true, 18},
		{"underconfident", 0.5, true, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cols, ref := sharpClassRows(1, 20000, 0, tc.sharp, true)
			schema, err := InferSchema(cols, ref[:SchemaSampleRows], multiclassOpts)
			if err != nil {
				t.Fatal(err)
			}
			refP, err := ProfileRows(newMemRows(cols, ref), schema, multiclassOpts)
			if err != nil {
				t.Fatal(err)
			}
			windows, covered := 20, 0
			var rawOff float64
			for w := range windows {
				shift := 0.3 * float64(w%5)
				_, cur := sharpClassRows(uint64(300+w), 5000, shift, tc.sharp, true)
				curP, err := ProfileRows(newMemRows(cols, cur), schema, multiclassOpts)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := CompareProfiles(refP, curP, multiclassOpts)
				if err != nil {
					t.Fatal(err)
				}
				e := rep.Estimation
				if e == nil || e.Calibrated != tc.calibrated || e.ReferenceRows != 5000 || len(e.ClassCalibrationPValues) != 3 {
					t.Fatalf("estimation %+v, want calibrated=%v on the 5000-row reference sample", e, tc.calibrated)
				}
				est, real := rep.EstimatedPerformance["accuracy"], rep.Performance["accuracy"]
				t.Logf("window %d: estimated %.4f [%.4f, %.4f], realized %.4f", w, est.Value, est.Lower, est.Upper, real)
				if d := math.Abs(est.Value - real); d > 0.02 {
					t.Errorf("window %d: estimated accuracy %.4f, realized %.4f (off by %.4f > 0.02)", w, est.Value, real, d)
				}
				if est.Lower <= real && real <= est.Upper {
					covered++
				}
				prob, pred, _ := sharpClassWindow(uint64(300+w), 5000, shift, tc.sharp)
				rawOff += MulticlassCBPE(prob, prob, pred)["accuracy"].Value - real
			}
			t.Logf("band covered the realized accuracy in %d of %d windows", covered, windows)
			if covered < tc.covered {
				t.Errorf("band covered the realized accuracy in %d of %d windows, want >= %d", covered, windows, tc.covered)
			}
			rawOff /= float64(windows)
			t.Logf("uncalibrated estimate off by %.4f on average", rawOff)
			if tc.calibrated && math.Abs(rawOff) < 0.1 {
				t.Errorf("the raw probabilities are off by only %.4f: the data does not need calibration", rawOff)
			}
		})
	}
}

// uncertainRegionRows is classRows with a feature region in north, south,
// east, west, where on region = east the model is at chance and knows it:
// probabilities near a third each, the label uniform. labeled false leaves
// the label blank.
func uncertainRegionRows(seed uint64, n int, labeled bool) ([]string, [][]string) {
	cols, rows := classRows(seed, n, 0, true)
	r := rand.New(rand.NewPCG(seed, 37))
	names := []string{"a", "b", "c"}
	for i, row := range rows {
		region := []string{"north", "south", "east", "west"}[r.IntN(4)]
		if region == "east" {
			p := []float64{1 + 0.1*r.Float64(), 1 + 0.1*r.Float64(), 1 + 0.1*r.Float64()}
			sum, best := p[0]+p[1]+p[2], 0
			for c := range p {
				p[c] /= sum
				if p[c] > p[best] {
					best = c
				}
			}
			row[1], row[2], row[3], row[4], row[5] = ff(p[0]), ff(p[1]), ff(p[2]), names[best], names[r.IntN(3)]
		}
		if !labeled {
			row[5] = ""
		}
		rows[i] = append(row, region)
	}
	return append(cols, "region"), rows
}

// Without labels, a multiclass window's weak segments come from the
// calibrated probability of each row's predicted class: a region where the
// model is at chance (and its probabilities say so) comes out first.
func TestMulticlassWeakSegmentsEstimatedWithoutLabels(t *testing.T) {
	cols, ref := uncertainRegionRows(1, 10000, true)
	_, blind := uncertainRegionRows(2, 5000, false)
	rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, blind), multiclassOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Segments) == 0 {
		t.Fatal("no segments without labels")
	}
	if s := rep.Segments[0]; s.Filter != "region = east" || s.Metric != "estimated_accuracy" || math.Abs(s.Value-1.0/3) > 0.05 || s.Delta > -0.2 {
		t.Errorf("first segment %+v, want region = east at an estimated accuracy of about 1/3", s)
	}
}

// predictSorted, the walk the bootstrap refits use, gives Predict's values,
// at the fitted points, between them and beyond both ends.
func TestIsotonicPredictSortedEqualsPredict(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 41))
	x, y := make([]float64, 300), make([]float64, 300)
	for i := range x {
		x[i] = math.Round(r.Float64()*50) / 50 // ties
		y[i] = b2f(r.Float64() < x[i])
	}
	f := IsotonicFit(x, y)
	v := append([]float64{-1, 2, 0, 1}, f.X...)
	for range 200 {
		v = append(v, r.Float64()*1.2-0.1)
	}
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmpFloat(v[a], v[b]) })
	got := make([]float64, len(v))
	f.predictSorted(v, idx, got)
	for i := range v {
		if want := f.Predict(v[i]); got[i] != want {
			t.Errorf("at %g: predictSorted %g, Predict %g", v[i], got[i], want)
		}
	}
}
