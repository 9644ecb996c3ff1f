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
// drawn from the rows' probabilities, on at most cbpeBandRows rows scaled
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
		o := make([]int, n)
		for i := range o {
			o[i] = i
		}
		slices.SortStableFunc(o, func(a, b int) int {
			switch {
			case score[a][c] < score[b][c]:
				return -1
			case score[a][c] > score[b][c]:
				return 1
			}
			return 0
		})
		order[c] = o
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

	stride := max(1, (n+cbpeBandRows-1)/cbpeBandRows)
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

// estimateMulticlass fills the report's estimated performance of a
// multiclass task with class-score columns (Options.ClassScores) from the
// current window's row sample, labeled or not. The class probabilities are
// taken as calibrated: there is no per-class calibration on the reference.
// A row's probabilities are divided by their sum (a row with a missing,
// negative or all-zero probability is left out); its predicted class is
// its prediction cell, or the class of highest probability when the cell
// is empty. A prediction that is not one of the classes counts only
// towards the AUC (MulticlassCBPE).
func estimateMulticlass(rep *Report, cur *rowTable, opts Options) {
	if cur == nil || len(opts.ClassScores) < 2 {
		return
	}
	classes := slices.Sorted(maps.Keys(opts.ClassScores))
	cols := make([]int, len(classes))
	index := map[string]int{}
	for c, class := range classes {
		cols[c] = -1
		for j, sc := range cur.schema.Columns {
			if sc.Name == opts.ClassScores[class] && sc.Role == RoleClassScore {
				cols[c] = j
			}
		}
		if cols[c] < 0 || cur.num[cols[c]] == nil {
			return
		}
		index[normLabel(class)] = c
	}
	var prob, score [][]float64
	var pred []int
rows:
	for i := range cur.n {
		s := make([]float64, len(classes))
		sum := 0.0
		for c, j := range cols {
			v := cur.num[j][i]
			if math.IsNaN(v) || v < 0 {
				continue rows
			}
			s[c] = v
			sum += v
		}
		if sum <= 0 {
			continue
		}
		p := make([]float64, len(classes))
		best := 0
		for c, v := range s {
			p[c] = v / sum
			if v > s[best] {
				best = c
			}
		}
		k := best
		if l := cur.label(cur.pred, i); l != "" {
			var ok bool
			if k, ok = index[l]; !ok {
				k = -1
			}
		}
		prob, score, pred = append(prob, p), append(score, s), append(pred, k)
	}
	est := MulticlassCBPE(prob, score, pred)
	if est == nil {
		return
	}
	rep.EstimatedPerformance = est
	rep.Estimation = &Estimation{Method: "cbpe", Rows: len(prob)}
}
