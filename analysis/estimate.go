package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Estimate is a metric estimated without labels: Value and a band [Lower,
// Upper] that holds the realized value of the window in about 95% of
// windows when the estimator's assumptions hold.
type Estimate struct {
	Value float64 `json:"value"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// Estimation says how Report.EstimatedPerformance was computed.
type Estimation struct {
	// Method is "cbpe" (confidence-based performance estimation, binary,
	// and multiclass from Options.ClassScores) or "dle" (direct loss
	// estimation, regression).
	Method string `json:"method"`
	// Rows is the number of current rows the estimate is computed on (a
	// sample of the window when it is larger than Options.RowSample).
	Rows int `json:"rows"`
	// ReferenceRows is the number of labeled, scored reference rows the
	// calibration was checked (and fitted) on (0 for a multiclass model
	// whose reference has fewer than 100 labeled rows: its class
	// probabilities are then taken as calibrated, unchecked).
	ReferenceRows int `json:"reference_rows"`
	// CBPE: Calibrated is true when the reference's scores were
	// miscalibrated (HosmerLemeshow p < CalibrationAlpha; for multiclass,
	// any of MulticlassCalibration's checks) and isotonic maps were
	// fitted; CalibrationPValue is that test's p-value on the raw scores
	// (multiclass: on the predicted class's probability against the
	// prediction being right).
	Calibrated        bool     `json:"calibrated,omitempty"`
	CalibrationPValue *float64 `json:"calibration_p_value,omitempty"`
	// ClassCalibrationPValues holds, for multiclass CBPE, each class's
	// one-vs-rest Hosmer–Lemeshow p-value on the reference
	// (MulticlassCalibration).
	ClassCalibrationPValues map[string]float64 `json:"class_calibration_p_values,omitempty"`
}

// CalibrationAlpha is the Hosmer–Lemeshow level below which the
// reference's scores count as miscalibrated.
const CalibrationAlpha = 0.01

// cbpeDraws is the number of label draws of the sampling-error band.
const cbpeDraws = 100

// Isotonic is a non-decreasing step map fitted by IsotonicFit.
type Isotonic struct {
	X, Y []float64
}

// IsotonicFit fits a non-decreasing function of x to y by least squares
// (pool-adjacent-violators), as sklearn.isotonic.IsotonicRegression
// (increasing=True, out_of_bounds="clip"): tied x are first merged into
// their mean y, weighted by their count. x and y are not modified.
func IsotonicFit(x, y []float64) *Isotonic {
	return isotonicSorted(x, y, nil, argsort(x), nil)
}

// isotonicSorted is IsotonicFit over the rows idx of x and y, idx in
// ascending order of x, row i counted w[i] times (once when w is nil; rows
// of weight 0 are skipped): a bootstrap resample is its rows' counts.
// sc, when not nil, holds working buffers reused from call to call.
func isotonicSorted(x, y, w []float64, idx []int, sc *isoScratch) *Isotonic {
	if sc == nil {
		sc = &isoScratch{}
	}
	ux, uy, uw := sc.ux[:0], sc.uy[:0], sc.uw[:0]
	for _, i := range idx {
		wi := 1.0
		if w != nil {
			if wi = w[i]; wi == 0 {
				continue
			}
		}
		if n := len(ux); n > 0 && ux[n-1] == x[i] {
			uy[n-1] += wi * y[i]
			uw[n-1] += wi
			continue
		}
		ux, uy, uw = append(ux, x[i]), append(uy, wi*y[i]), append(uw, wi)
	}
	for i := range uy {
		uy[i] /= uw[i]
	}
	// PAVA over blocks: each block holds a mean, a weight and its extent.
	st := sc.st[:0]
	for i := range uy {
		b := isoBlock{uy[i], uw[i], 1}
		for len(st) > 0 && st[len(st)-1].mean >= b.mean {
			t := st[len(st)-1]
			st = st[:len(st)-1]
			w := t.w + b.w
			b = isoBlock{(t.mean*t.w + b.mean*b.w) / w, w, t.n + b.n}
		}
		st = append(st, b)
	}
	fit := make([]float64, 0, len(ux))
	for _, b := range st {
		for range b.n {
			fit = append(fit, b.mean)
		}
	}
	sc.ux, sc.uy, sc.uw, sc.st = ux, uy, uw, st
	return &Isotonic{X: slices.Clone(ux), Y: fit}
}

// isoBlock is a block of pool-adjacent-violators: its mean, weight and
// number of distinct x.
type isoBlock struct {
	mean, w float64
	n       int
}

// isoScratch holds isotonicSorted's working buffers.
type isoScratch struct {
	ux, uy, uw []float64
	st         []isoBlock
}

// Predict is the fitted map at v: linear interpolation between the fitted
// points (numpy.interp, as sklearn's predict), clipped to the fitted range.
func (f *Isotonic) Predict(v float64) float64 {
	n := len(f.X)
	if n == 0 {
		return math.NaN()
	}
	if v <= f.X[0] {
		return f.Y[0]
	}
	if v >= f.X[n-1] {
		return f.Y[n-1]
	}
	j := sort.SearchFloat64s(f.X, v) // f.X[j-1] < v <= f.X[j]
	if f.X[j] == v {
		return f.Y[j]
	}
	t := (v - f.X[j-1]) / (f.X[j] - f.X[j-1])
	return f.Y[j-1] + t*(f.Y[j]-f.Y[j-1])
}

// HosmerLemeshow tests whether probabilities p are calibrated for the
// binary outcomes y (Hosmer & Lemeshow, 1980): rows sorted by p (stably)
// are cut into groups of equal count (numpy.array_split), and
// Σ_g (O_g − E_g)² / (E_g (1 − E_g/n_g)) is referred to χ² with groups − 2
// degrees of freedom. Groups whose expected count is 0 or n_g are skipped.
func HosmerLemeshow(p []float64, y []bool, groups int) (stat, pValue float64) {
	n := len(p)
	idx := argsort(p)
	// array_split: the first n%groups groups get one more row.
	base, extra := n/groups, n%groups
	start := 0
	for g := range groups {
		size := base
		if g < extra {
			size++
		}
		var o, e float64
		for _, i := range idx[start : start+size] {
			e += p[i]
			if y[i] {
				o++
			}
		}
		start += size
		if v := e * (1 - e/float64(size)); v > 0 {
			stat += (o - e) * (o - e) / v
		}
	}
	return stat, distuv.ChiSquared{K: float64(groups - 2)}.Survival(stat)
}

// CBPE estimates the binary metrics of a window without its labels
// (confidence-based performance estimation, NannyML): with calibrated
// probabilities c_i of the positive class and predicted labels ŷ_i, the
// expected confusion matrix is TP = Σ_{ŷ=1} c, FP = Σ_{ŷ=1} (1−c),
// FN = Σ_{ŷ=0} c, TN = Σ_{ŷ=0} (1−c); accuracy, precision, recall and F1
// are those of the expected matrix, and roc_auc is the AUC with every row
// counted as a positive of weight c and a negative of weight 1−c at its
// score. The band is value ± 1.96 standard deviations of the metric over
// cbpeDraws windows whose labels are drawn from the c_i (the sampling error
// of a window of this size; estimatePerformance adds the calibration's own
// error when it fitted one, see widenForCalibration).
// The draws use at most cbpeBandRows rows, evenly spread, and their standard
// deviation is scaled to the window's size.
func CBPE(prob []float64, pred []bool, score []float64) map[string]Estimate {
	n := len(prob)
	if n == 0 {
		return nil
	}
	// Scores sorted once; AUCs walk groups of equal score.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return score[order[a]] < score[order[b]] })
	sortedScore := make([]float64, n)
	for k, i := range order {
		sortedScore[k] = score[i]
	}
	est := cbpeValues(prob, pred, order, sortedScore)
	// The draws use every stride-th row, at most cbpeBandRows of them, and
	// their standard deviation is scaled by √(m/n): every metric here is a
	// smooth function of sums over rows, whose error shrinks as 1/√n.
	stride := max(1, (n+cbpeBandRows-1)/cbpeBandRows)
	var sub []int // in score order
	for _, i := range order {
		if i%stride == 0 {
			sub = append(sub, i)
		}
	}
	m := len(sub)
	scale := math.Sqrt(float64(m) / float64(n))
	r := rand.New(rand.NewPCG(uint64(n), 0x63627065))
	names := []string{"accuracy", "precision", "recall", "f1", "roc_auc"}
	draws := make([][]float64, len(names))
	y := make([]bool, m)
	for range cbpeDraws {
		var tp, fp, fn, tn float64
		for k, i := range sub {
			y[k] = r.Float64() < prob[i]
			switch {
			case pred[i] && y[k]:
				tp++
			case pred[i]:
				fp++
			case y[k]:
				fn++
			default:
				tn++
			}
		}
		var below, sum float64
		for k := 0; k < m; {
			j := k
			var gp, gn float64
			for ; j < m && score[sub[j]] == score[sub[k]]; j++ {
				if y[j] {
					gp++
				} else {
					gn++
				}
			}
			sum += gp * (below + gn/2)
			below += gn
			k = j
		}
		auc := math.NaN()
		if tp+fn > 0 && fp+tn > 0 {
			auc = sum / ((tp + fn) * (fp + tn))
		}
		v := []float64{(tp + tn) / float64(m), ratio(tp, tp+fp), ratio(tp, tp+fn), ratio(2*tp, 2*tp+fp+fn), auc}
		for k := range names {
			if !math.IsNaN(v[k]) {
				draws[k] = append(draws[k], v[k])
			}
		}
	}
	return bandsOf(names, est, draws, scale)
}

// bandsOf turns CBPE's point estimates and the metrics of its label draws
// (draws[k] for names[k], on the band's row subset) into estimates with a
// 95% normal band, the draws' spread scaled by scale = √(subset / window).
func bandsOf(names []string, est map[string]float64, draws [][]float64, scale float64) map[string]Estimate {
	out := map[string]Estimate{}
	for k, name := range names {
		v, ok := est[name]
		if !ok {
			continue
		}
		sd := stdDev(draws[k]) * scale
		out[name] = Estimate{Value: v, Lower: v - 1.96*sd, Upper: v + 1.96*sd}
	}
	return out
}

// cbpeBandRows bounds the rows CBPE's band is drawn on.
const cbpeBandRows = 5000

// cbpeValues is CBPE's point estimate: the metrics of the expected
// confusion matrix, and the weighted AUC over rows sorted by score (order,
// sortedScore).
func cbpeValues(prob []float64, pred []bool, order []int, sortedScore []float64) map[string]float64 {
	n := len(prob)
	// The expected confusion matrix.
	var tp, fp, fn, tn float64
	for i := range n {
		c := prob[i]
		if pred[i] {
			tp += c
			fp += 1 - c
		} else {
			fn += c
			tn += 1 - c
		}
	}
	est := map[string]float64{"accuracy": (tp + tn) / float64(n), "precision": ratio(tp, tp+fp),
		"recall": ratio(tp, tp+fn), "f1": ratio(2*tp, 2*tp+fp+fn)}
	// AUC with weights: Σ over positives of the negative weight below plus
	// half the tied negative weight, over P·N.
	var below, sum, totP, totN float64
	for k := 0; k < n; {
		j := k
		var gp, gn float64
		for ; j < n && sortedScore[j] == sortedScore[k]; j++ {
			c := prob[order[j]]
			gp += c
			gn += 1 - c
		}
		sum += gp * (below + gn/2)
		below += gn
		totP += gp
		totN += gn
		k = j
	}
	if totP > 0 && totN > 0 {
		est["roc_auc"] = sum / (totP * totN)
	}
	return est
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// stdDev is the sample standard deviation (ddof 1) of x; 0 for fewer than
// two values.
func stdDev(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	var s float64
	for _, v := range x {
		s += v
	}
	mean := s / float64(len(x))
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return math.Sqrt(ss / float64(len(x)-1))
}

// estimatePerformance fills the report's estimated performance of a binary
// task from the row samples: the reference's labeled, scored rows decide
// (and when miscalibrated, fit) the calibration; the current window's scored
// rows are estimated with it, whether or not they have labels.
func estimatePerformance(rep *Report, ref, cur *rowTable, opts Options) {
	if opts.Task == TaskMulticlass {
		estimateMulticlass(rep, ref, cur, opts)
		return
	}
	if opts.Task != TaskBinary || ref == nil || cur == nil || ref.score < 0 {
		return
	}
	var rs []float64
	var ry []bool
	var rf []float64
	for i := range ref.n {
		s := ref.num[ref.score][i]
		t := ref.label(ref.target, i)
		if math.IsNaN(s) || t == "" {
			continue
		}
		rs = append(rs, s)
		ry = append(ry, t == opts.PositiveLabel)
		rf = append(rf, b2f(t == opts.PositiveLabel))
	}
	if len(rs) < minCalibrationRows || !slices.Contains(ry, true) || !slices.Contains(ry, false) {
		return
	}
	clipped := make([]float64, len(rs))
	for i, s := range rs {
		clipped[i] = min(max(s, 0), 1)
	}
	groups := min(10, len(rs)/10)
	_, pv := HosmerLemeshow(clipped, ry, groups)
	info := &Estimation{Method: "cbpe", ReferenceRows: len(rs), CalibrationPValue: &pv}
	calibrate := func(s float64) float64 { return min(max(s, 0), 1) }
	if pv < CalibrationAlpha {
		iso := IsotonicFit(rs, rf)
		calibrate = iso.Predict
		info.Calibrated = true
	}
	var prob, score []float64
	var pred []bool
	for i := range cur.n {
		s := cur.num[cur.score][i]
		if math.IsNaN(s) {
			continue
		}
		p, ok := cur.predicted(i, s, opts)
		if !ok {
			continue
		}
		prob = append(prob, calibrate(s))
		score = append(score, s)
		pred = append(pred, p)
	}
	if len(prob) == 0 {
		return
	}
	info.Rows = len(prob)
	est := CBPE(prob, pred, score)
	if info.Calibrated {
		widenForCalibration(est, rs, rf, pred, score)
	}
	rep.EstimatedPerformance = est
	rep.Estimation = info
	cur.right = make([]float64, cur.n)
	for i := range cur.n {
		cur.right[i] = math.NaN()
		s := cur.num[cur.score][i]
		if math.IsNaN(s) {
			continue
		}
		if pos, ok := cur.predicted(i, s, opts); ok {
			c := calibrate(s)
			if !pos {
				c = 1 - c
			}
			cur.right[i] = c
		}
	}
}

// cbpeRefits is the number of bootstrap refits of the calibration.
const cbpeRefits = 20

// widenForCalibration adds the calibration's own error to CBPE's bands when
// an isotonic map was fitted on the reference: the map is refitted on
// cbpeRefits bootstrap resamples of the reference rows (rs, rf), the
// current rows re-estimated with each, and the band's half-width becomes
// 1.96 · √(sd_labels² + sd_calibration²).
func widenForCalibration(est map[string]Estimate, rs, rf []float64, pred []bool, score []float64) {
	n := len(score)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return score[order[a]] < score[order[b]] })
	sortedScore := make([]float64, n)
	for k, i := range order {
		sortedScore[k] = score[i]
	}
	r := rand.New(rand.NewPCG(uint64(len(rs)), 0x69736f))
	bs, bf := make([]float64, len(rs)), make([]float64, len(rs))
	prob := make([]float64, n)
	vals := map[string][]float64{}
	for range cbpeRefits {
		for i := range bs {
			k := r.IntN(len(rs))
			bs[i], bf[i] = rs[k], rf[k]
		}
		iso := IsotonicFit(bs, bf)
		for i, s := range score {
			prob[i] = iso.Predict(s)
		}
		for k, v := range cbpeValues(prob, pred, order, sortedScore) {
			vals[k] = append(vals[k], v)
		}
	}
	widen(est, vals)
}

// widen adds to each estimate's 95% band the spread of vals[metric] (the
// metric over refits of a calibration): the half-width becomes
// 1.96 · √(sd_band² + sd_refits²).
func widen(est map[string]Estimate, vals map[string][]float64) {
	for k, e := range est {
		sdCal := stdDev(vals[k])
		sdLab := (e.Upper - e.Value) / 1.96
		half := 1.96 * math.Sqrt(sdLab*sdLab+sdCal*sdCal)
		est[k] = Estimate{Value: e.Value, Lower: e.Value - half, Upper: e.Value + half}
	}
}

// argsort returns the indices of x in ascending order of x, ties in index
// order (what a stable sort gives; x holds no NaN).
func argsort(x []float64) []int {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmpFloat(x[a], x[b]); c != 0 {
			return c
		}
		return a - b
	})
	return idx
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
