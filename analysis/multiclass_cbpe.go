package analysis

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
)

// MulticlassCBPE estimates a multiclass model's metrics without labels, as
// CBPE does for two classes: prob[i][c] is row i's (calibrated) probability
// of class c, its classes' probabilities summing to 1; score[i][c] the
// model's own score for class c (what a labelled ROC AUC ranks by); pred[i]
// the index of its predicted class. The expected confusion matrix counts row
// i as a true c of weight prob[i][c] at its predicted class; accuracy is its
// trace over n, precision, recall and F1 the macro averages (unweighted mean
// over classes, 0 for a class with nothing predicted or expected, as
// sklearn's zero_division default) and roc_auc the macro one-vs-rest AUC,
// each class's AUC counting every row as a positive of weight prob[i][c] and
// a negative of weight 1−prob[i][c] at score[i][c]. The band is as CBPE's:
// value ± 1.96 standard deviations over cbpeDraws windows whose labels are
// drawn from the rows' probabilities, on at most multiclassBandRows rows scaled
// to the window's size. A row without a predicted class (pred[i] < 0)
// counts only towards the AUC, which ranks by score.
//
// Reports get it from Options.ClassScores (estimateMulticlass); it is
// tested against sklearn (TestGoldenMulticlassCBPEMatchesSklearn).
func MulticlassCBPE(prob, score [][]float64, pred []int) map[string]Estimate {
	n := len(prob)
	if n == 0 || len(score) != n || len(pred) != n {
		return nil
	}
	k := len(prob[0])
	// Every class's rows in score order, once.
	order := make([][]int, k)
	for c := range k {
		col := make([]float64, n)
		for i := range col {
			col[i] = score[i][c]
		}
		order[c] = argsort(col)
	}
	weight := func(i, c int) float64 { return prob[i][c] }
	predicted := 0
	for _, p := range pred {
		if p >= 0 {
			predicted++
		}
	}
	if predicted == 0 {
		return nil
	}
	est := multiclassValues(predicted, k, pred, weight, score, order)

	stride := max(1, (n+multiclassBandRows-1)/multiclassBandRows)
	keep := func(i int) bool { return i%stride == 0 }
	m := 0
	for i := range n {
		if keep(i) && pred[i] >= 0 {
			m++
		}
	}
	sub := make([][]int, k)
	for c := range k {
		for _, i := range order[c] {
			if keep(i) {
				sub[c] = append(sub[c], i)
			}
		}
	}
	scale := math.Sqrt(float64(m) / float64(n))
	r := rand.New(rand.NewPCG(uint64(n), 0x6d636270))
	y := make([]int, n)
	names := []string{"accuracy", "precision", "recall", "f1", "roc_auc"}
	draws := make([][]float64, len(names))
	subPred := make([]int, n)
	for i := range n {
		subPred[i] = -1
		if keep(i) {
			subPred[i] = pred[i]
		}
	}
	for range cbpeDraws {
		for i := range n {
			if !keep(i) {
				continue
			}
			u, c := r.Float64(), 0
			for ; c < k-1; c++ {
				u -= prob[i][c]
				if u < 0 {
					break
				}
			}
			y[i] = c
		}
		drawn := func(i, c int) float64 {
			if y[i] == c {
				return 1
			}
			return 0
		}
		v := multiclassValues(m, k, subPred, drawn, score, sub)
		for j, name := range names {
			if x, ok := v[name]; ok && !math.IsNaN(x) {
				draws[j] = append(draws[j], x)
			}
		}
	}
	return bandsOf(names, est, draws, scale)
}

// multiclassValues is MulticlassCBPE's point estimate: the confusion
// matrix over the rows with a predicted class (pred ≥ 0; n of them), row i
// weighing w(i, c) as a true c, and the AUCs over the rows of order[c]
// (in the order of score[·][c]).
func multiclassValues(n, k int, pred []int, w func(i, c int) float64, score [][]float64, order [][]int) map[string]float64 {
	conf := make([][]float64, k) // conf[true][predicted]
	for c := range conf {
		conf[c] = make([]float64, k)
	}
	for i, p := range pred {
		if p < 0 {
			continue
		}
		for c := range k {
			conf[c][p] += w(i, c)
		}
	}
	var trace, prec, rec, f1 float64
	for c := range k {
		tp := conf[c][c]
		var predicted, actual float64
		for t := range k {
			predicted += conf[t][c]
			actual += conf[c][t]
		}
		trace += tp
		prec += ratio(tp, predicted)
		rec += ratio(tp, actual)
		f1 += ratio(2*tp, predicted+actual)
	}
	kf := float64(k)
	est := map[string]float64{"accuracy": trace / float64(n), "precision": prec / kf, "recall": rec / kf, "f1": f1 / kf}
	var auc float64
	for c := range k {
		o := order[c]
		var below, sum, totP, totN float64
		for a := 0; a < len(o); {
			b := a
			var gp, gn float64
			for ; b < len(o) && score[o[b]][c] == score[o[a]][c]; b++ {
				x := w(o[b], c)
				gp += x
				gn += 1 - x
			}
			sum += gp * (below + gn/2)
			below += gn
			totP += gp
			totN += gn
			a = b
		}
		if totP == 0 || totN == 0 {
			auc = math.NaN()
			break
		}
		auc += sum / (totP * totN)
	}
	if !math.IsNaN(auc) {
		est["roc_auc"] = auc / kf
	}
	return est
}

// multiclassBandRows bounds the rows MulticlassCBPE's label draws and the
// calibration's bootstrap refits are computed on (every k-th row): each
// draw or refit costs k AUCs over them. Below binary CBPE's cbpeBandRows,
// as a multiclass row costs k times as much.
const multiclassBandRows = 2000

// MulticlassCalibration is the calibration of a multiclass model's class
// probabilities fitted on the reference's labelled rows. The check is the
// binary path's Hosmer–Lemeshow test (10 equal-count groups), run one
// versus rest on each class's probability against "the label is c", and
// on the predicted class's probability against "the prediction is right";
// when any of them has p < CalibrationAlpha every map is fitted:
//   - one versus rest, as NannyML does: class c's isotonic map of the
//     indicator "the label is c" on its probability;
//   - top label (Gupta & Ramdas, ICLR 2022): for each predicted class k, the
//     isotonic map of "the prediction is right" on the probability of k,
//     over the reference rows predicted k.
//
// A row predicted k gets the top-label probability of k, and the rest of
// its mass shared among the other classes in proportion to their
// one-versus-rest probabilities; a row without a top-label map (no
// predicted class, or fewer than minTopLabelRows reference rows predicted
// k) gets its one-versus-rest probabilities divided by their sum. NannyML
// stops at that division; on its own it is biased where accuracy is read
// (each map is calibrated given one class's probability, not given the
// row), by −0.02 for the underconfident model of
// TestMulticlassCBPECalibratesOnTheReference.
type MulticlassCalibration struct {
	// PValues[c] is the Hosmer–Lemeshow p-value of class c's raw
	// probabilities; TopPValue that of the predicted class's.
	PValues   []float64
	TopPValue float64
	// OneVsRest[c] is class c's map and TopLabel[k] predicted class k's;
	// all nil when every check passed (the probabilities are used as
	// they are).
	OneVsRest, TopLabel []*Isotonic
}

// minTopLabelRows is the number of reference rows predicted a class that
// its top-label map needs.
const minTopLabelRows = 20

// FitMulticlassCalibration checks and, if needed, calibrates the
// probabilities prob (rows summing to 1) of rows predicted pred (-1: no
// predicted class) against their labels (class indices). It needs at least
// 20 rows.
func FitMulticlassCalibration(prob [][]float64, pred, label []int) *MulticlassCalibration {
	n := len(prob)
	if n < 20 || len(label) != n || len(pred) != n {
		return nil
	}
	k := len(prob[0])
	m := &MulticlassCalibration{PValues: make([]float64, k)}
	groups := min(10, n/10)
	x, y := make([]float64, n), make([]bool, n)
	miscalibrated := false
	for c := range k {
		for i, p := range prob {
			x[i], y[i] = p[c], label[i] == c
		}
		_, m.PValues[c] = HosmerLemeshow(x, y, groups)
		miscalibrated = miscalibrated || m.PValues[c] < CalibrationAlpha
	}
	x, y = x[:0], y[:0]
	for i, p := range prob {
		if pred[i] >= 0 {
			x, y = append(x, p[pred[i]]), append(y, pred[i] == label[i])
		}
	}
	m.TopPValue = math.NaN()
	if len(x) >= 20 {
		_, m.TopPValue = HosmerLemeshow(x, y, min(10, len(x)/10))
		miscalibrated = miscalibrated || m.TopPValue < CalibrationAlpha
	}
	if miscalibrated {
		m.OneVsRest, m.TopLabel = newMulticlassFitter(prob, pred, label).fit(nil)
	}
	return m
}

// multiclassFitter fits MulticlassCalibration's maps on reference rows
// (prob, pred, label), each row counted a given number of times: the rows
// are sorted once per map, so a bootstrap refit costs no sort.
type multiclassFitter struct {
	x, y     [][]float64 // x[c][i] = prob[i][c], y[c][i] = 1 when label[i] is c
	ovr, top [][]int     // rows in order of prob[·][c]; of them, those predicted c
	scratch  isoScratch
}

func newMulticlassFitter(prob [][]float64, pred, label []int) *multiclassFitter {
	k := len(prob[0])
	f := &multiclassFitter{x: make([][]float64, k), y: make([][]float64, k),
		ovr: make([][]int, k), top: make([][]int, k)}
	for c := range k {
		f.x[c], f.y[c] = make([]float64, len(prob)), make([]float64, len(prob))
		for i, p := range prob {
			f.x[c][i], f.y[c][i] = p[c], b2f(label[i] == c)
		}
		o := argsort(f.x[c])
		f.ovr[c] = o
		for _, i := range o {
			if pred[i] == c {
				f.top[c] = append(f.top[c], i)
			}
		}
	}
	return f
}

// fit returns the maps with row i counted w[i] times (once each when w
// is nil); a predicted class whose rows count under minTopLabelRows has
// no top-label map.
func (f *multiclassFitter) fit(w []float64) (ovr, top []*Isotonic) {
	k := len(f.ovr)
	ovr, top = make([]*Isotonic, k), make([]*Isotonic, k)
	for c := range k {
		ovr[c] = isotonicSorted(f.x[c], f.y[c], w, f.ovr[c], &f.scratch)
		n := float64(len(f.top[c]))
		if w != nil {
			n = 0
			for _, i := range f.top[c] {
				n += w[i]
			}
		}
		if n >= minTopLabelRows {
			top[c] = isotonicSorted(f.x[c], f.y[c], w, f.top[c], &f.scratch)
		}
	}
	return ovr, top
}

// Calibrated reports whether maps were fitted.
func (m *MulticlassCalibration) Calibrated() bool {
	return m != nil && m.OneVsRest != nil
}

// Apply returns row p, predicted pred (-1: none), calibrated as the type
// says (p itself when nothing was fitted).
func (m *MulticlassCalibration) Apply(p []float64, pred int) []float64 {
	if !m.Calibrated() {
		return p
	}
	return applyMulticlassMaps(m.OneVsRest, m.TopLabel, p, pred)
}

// applyMulticlassMaps calibrates row p: see MulticlassCalibration. When the
// one-versus-rest probabilities all map to 0 the raw ones stand in for
// them, and when those are 0 too the classes share equally.
func applyMulticlassMaps(ovr, top []*Isotonic, p []float64, pred int) []float64 {
	out := make([]float64, len(p))
	for c, v := range p {
		out[c] = ovr[c].Predict(v)
	}
	q := math.NaN()
	if pred >= 0 && top[pred] != nil {
		q = top[pred].Predict(p[pred])
	}
	shareRow(out, p, pred, q)
	return out
}

// shareRow finishes a calibrated row: out holds the one-vs-rest
// probabilities of raw row p, q the top-label probability of its
// predicted class pred (NaN: no top-label map, or no predicted class).
func shareRow(out, p []float64, pred int, q float64) {
	skip := pred
	if math.IsNaN(q) {
		skip = -1
	}
	var sum float64
	for c, v := range out {
		if c != skip {
			sum += v
		}
	}
	if !(sum > 0) {
		copy(out, p)
		sum = 0
		for c, v := range out {
			if c != skip {
				sum += v
			}
		}
	}
	if !(sum > 0) {
		for c := range out {
			out[c] = 1
		}
		sum = float64(len(out))
		if skip >= 0 {
			sum--
		}
	}
	for c := range out {
		out[c] /= sum
	}
	if skip >= 0 {
		for c := range out {
			out[c] *= 1 - q
		}
		out[skip] = q
	}
}

// predictSorted sets out[i] = f.Predict(v[i]) for the rows idx, in
// ascending order of v, in one walk over f's points.
func (f *Isotonic) predictSorted(v []float64, idx []int, out []float64) {
	n, j := len(f.X), 0
	for _, i := range idx {
		x := v[i]
		switch {
		case n == 0:
			out[i] = math.NaN()
			continue
		case x <= f.X[0]:
			out[i] = f.Y[0]
			continue
		case x >= f.X[n-1]:
			out[i] = f.Y[n-1]
			continue
		}
		for f.X[j] < x { // f.X[j-1] < x <= f.X[j]
			j++
		}
		if f.X[j] == x {
			out[i] = f.Y[j]
			continue
		}
		t := (x - f.X[j-1]) / (f.X[j] - f.X[j-1])
		out[i] = f.Y[j-1] + t*(f.Y[j]-f.Y[j-1])
	}
}

// multiclassRows reads the class-score columns cols of t: each usable row's
// probabilities (its scores divided by their sum; a row with a missing,
// negative or all-zero score is left out), its scores, its predicted class
// (its prediction cell, or the class of highest score when the cell is
// empty; -1 for a prediction that is not one of the classes), when
// labels is set its labelled class (-1: no label or not a class), and its
// index in t.
func multiclassRows(t *rowTable, cols []int, index map[string]int, labels bool) (prob, score [][]float64, pred, label, at []int) {
rows:
	for i := range t.n {
		s := make([]float64, len(cols))
		sum := 0.0
		for c, j := range cols {
			v := t.num[j][i]
			if math.IsNaN(v) || v < 0 {
				continue rows
			}
			s[c] = v
			sum += v
		}
		if sum <= 0 {
			continue
		}
		p := make([]float64, len(cols))
		best := 0
		for c, v := range s {
			p[c] = v / sum
			if v > s[best] {
				best = c
			}
		}
		k := best
		if l := t.label(t.pred, i); l != "" {
			var ok bool
			if k, ok = index[l]; !ok {
				k = -1
			}
		}
		y := -1
		if labels {
			if l := t.label(t.target, i); l != "" {
				if c, ok := index[l]; ok {
					y = c
				}
			}
		}
		prob, score, pred, label = append(prob, p), append(score, s), append(pred, k), append(label, y)
		at = append(at, i)
	}
	return prob, score, pred, label, at
}

// classScoreColumns finds the class-score columns of opts.ClassScores in t,
// classes in sorted order; nil when one is absent.
func classScoreColumns(t *rowTable, classes []string, opts Options) []int {
	cols := make([]int, len(classes))
	for c, class := range classes {
		cols[c] = -1
		for j, sc := range t.schema.Columns {
			if sc.Name == opts.ClassScores[class] && sc.Role == RoleClassScore {
				cols[c] = j
			}
		}
		if cols[c] < 0 || t.num[cols[c]] == nil {
			return nil
		}
	}
	return cols
}

// minCalibrationRows is the number of labelled reference rows a
// calibration check needs (binary and multiclass).
const minCalibrationRows = 100

// estimateMulticlass fills the report's estimated performance of a
// multiclass task with class-score columns (Options.ClassScores) from the
// current window's row sample, labeled or not. The reference's labelled
// rows decide the calibration (FitMulticlassCalibration); with fewer than
// minCalibrationRows of them the probabilities are taken as they are
// (Estimation.ReferenceRows 0). Rows are read as multiclassRows says; a
// prediction that is not one of the classes counts only towards the AUC
// (MulticlassCBPE).
func estimateMulticlass(rep *Report, ref, cur *rowTable, opts Options) {
	if cur == nil || len(opts.ClassScores) < 2 {
		return
	}
	classes := slices.Sorted(maps.Keys(opts.ClassScores))
	index := map[string]int{}
	for c, class := range classes {
		index[normLabel(class)] = c
	}
	cols := classScoreColumns(cur, classes, opts)
	if cols == nil {
		return
	}
	prob, score, pred, _, at := multiclassRows(cur, cols, index, false)
	info := &Estimation{Method: "cbpe", Rows: len(prob)}
	var cal *MulticlassCalibration
	var ref3 refRows3
	if ref != nil {
		if rcols := classScoreColumns(ref, classes, opts); rcols != nil {
			p, _, k, y, _ := multiclassRows(ref, rcols, index, true)
			for i := range p {
				if y[i] >= 0 {
					ref3.prob, ref3.pred, ref3.label = append(ref3.prob, p[i]), append(ref3.pred, k[i]), append(ref3.label, y[i])
				}
			}
		}
	}
	raw := prob
	if len(ref3.prob) >= minCalibrationRows {
		cal = FitMulticlassCalibration(ref3.prob, ref3.pred, ref3.label)
		info.ReferenceRows = len(ref3.prob)
		info.Calibrated = cal.Calibrated()
		info.ClassCalibrationPValues = map[string]float64{}
		for c, class := range classes {
			info.ClassCalibrationPValues[class] = cal.PValues[c]
		}
		if !math.IsNaN(cal.TopPValue) {
			pv := cal.TopPValue
			info.CalibrationPValue = &pv
		}
		if cal.Calibrated() {
			prob = make([][]float64, len(raw))
			for i := range raw {
				prob[i] = cal.Apply(raw[i], pred[i])
			}
		}
	}
	est := MulticlassCBPE(prob, score, pred)
	if est == nil {
		return
	}
	if cal.Calibrated() {
		widenForMulticlassCalibration(est, ref3, raw, score, pred)
	}
	rep.EstimatedPerformance = est
	rep.Estimation = info
	cur.right = make([]float64, cur.n)
	for i := range cur.right {
		cur.right[i] = math.NaN()
	}
	for r, i := range at {
		if pred[r] >= 0 {
			cur.right[i] = prob[r][pred[r]]
		}
	}
}

// refRows3 are the reference's labelled rows of a multiclass model:
// probabilities, predicted class and label.
type refRows3 struct {
	prob        [][]float64
	pred, label []int
}

// widenForMulticlassCalibration adds the calibration's own error to
// MulticlassCBPE's bands, as widenForCalibration does for two classes: the
// maps are refitted on cbpeRefits bootstrap resamples of the reference
// rows, the current rows (raw probabilities raw; at most
// multiclassBandRows of them) re-estimated with each, and the spread of
// the estimates added to the band's.
func widenForMulticlassCalibration(est map[string]Estimate, ref refRows3, raw, score [][]float64, pred []int) {
	// on every stride-th row, at most multiclassBandRows: the refits'
	// spread is an error shared by all rows, not one that averages out
	if stride := (len(score) + multiclassBandRows - 1) / multiclassBandRows; stride > 1 {
		var r, s [][]float64
		var p []int
		for i := 0; i < len(score); i += stride {
			r, s, p = append(r, raw[i]), append(s, score[i]), append(p, pred[i])
		}
		raw, score, pred = r, s, p
	}
	n, k := len(score), len(raw[0])
	order := make([][]int, k)
	for c := range k {
		col := make([]float64, n)
		for i := range col {
			col[i] = score[i][c]
		}
		order[c] = argsort(col)
	}
	predicted := 0
	for _, p := range pred {
		if p >= 0 {
			predicted++
		}
	}
	// The current rows in order of each class's raw probability, all and
	// those predicted that class: each refit's maps are evaluated in one
	// walk per map.
	col := make([][]float64, k)
	byClass, byTop := make([][]int, k), make([][]int, k)
	for c := range k {
		col[c] = make([]float64, n)
		for i := range n {
			col[c][i] = raw[i][c]
		}
		o := argsort(col[c])
		byClass[c] = o
		for _, i := range o {
			if pred[i] == c {
				byTop[c] = append(byTop[c], i)
			}
		}
	}
	mapped := make([][]float64, k)
	for c := range mapped {
		mapped[c] = make([]float64, n)
	}
	q := make([]float64, n)
	m := len(ref.prob)
	r := rand.New(rand.NewPCG(uint64(m), 0x6d69736f))
	fitter := newMulticlassFitter(ref.prob, ref.pred, ref.label)
	counts := make([]float64, m)
	refit := make([][]float64, n)
	for i := range refit {
		refit[i] = make([]float64, k)
	}
	vals := map[string][]float64{}
	for range cbpeRefits {
		clear(counts)
		for range m {
			counts[r.IntN(m)]++
		}
		ovr, top := fitter.fit(counts)
		for i := range q {
			q[i] = math.NaN()
		}
		for c := range k {
			ovr[c].predictSorted(col[c], byClass[c], mapped[c])
			if top[c] != nil {
				top[c].predictSorted(col[c], byTop[c], q)
			}
		}
		for i := range refit {
			for c := range k {
				refit[i][c] = mapped[c][i]
			}
			shareRow(refit[i], raw[i], pred[i], q[i])
		}
		w := func(i, c int) float64 { return refit[i][c] }
		for name, v := range multiclassValues(predicted, k, pred, w, score, order) {
			if !math.IsNaN(v) {
				vals[name] = append(vals[name], v)
			}
		}
	}
	widen(est, vals)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
