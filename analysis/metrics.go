package analysis

import (
	"math"
	"slices"
	"sort"
)

// performance fills the report's performance section from the accumulated
// labeled rows. Definitions are sklearn's (1.2):
//
//   - binary, positive class PositiveLabel: accuracy_score, precision_score,
//     recall_score, f1_score (0 when undefined, sklearn's zero_division
//     default), roc_auc_score (ties count ½, = Mann–Whitney U / (P·N)) and
//     log_loss (probabilities clipped to [eps, 1−eps], eps = 2.22e-16) over
//     the rows with a finite score; roc_auc and log_loss are omitted when only
//     one class is present (sklearn raises);
//   - multiclass: accuracy, f1_macro, f1_weighted, per-class precision/recall
//     and the confusion matrix over the sorted union of true and predicted
//     labels;
//   - regression: mae, mse, rmse, r2 (1 for a perfect fit of a constant
//     target, 0 otherwise, as sklearn's force_finite) and mape
//     (mean_absolute_percentage_error, a fraction, eps-floored denominator).
func performance(rep *Report, p *PerfProfile, opts Options) {
	rep.Performance = map[string]float64{}
	switch p.Task {
	case TaskRegression:
		if p.N == 0 {
			return
		}
		n := float64(p.N)
		mse := p.SqErr / n
		rep.Performance["mae"] = p.AbsErr / n
		rep.Performance["mse"] = mse
		rep.Performance["rmse"] = math.Sqrt(mse)
		rep.Performance["mape"] = p.AbsPctEr / n
		switch {
		case p.YM2 != 0:
			rep.Performance["r2"] = 1 - p.SqErr/p.YM2
		case p.SqErr == 0:
			rep.Performance["r2"] = 1
		default:
			rep.Performance["r2"] = 0
		}
		return
	}
	labelSet := map[string]bool{}
	var total, correct int64
	for t, row := range p.Confusion {
		labelSet[t] = true
		for q, n := range row {
			labelSet[q] = true
			total += n
			if q == t {
				correct += n
			}
		}
	}
	if total == 0 {
		return
	}
	labels := make([]string, 0, len(labelSet))
	for l := range labelSet {
		labels = append(labels, l)
	}
	sortLabels(labels)
	rep.Performance["accuracy"] = float64(correct) / float64(total)
	perClass := map[string]ClassMetrics{}
	cm := make([][]int64, len(labels))
	for i, t := range labels {
		cm[i] = make([]int64, len(labels))
		for j, q := range labels {
			cm[i][j] = p.Confusion[t][q]
		}
	}
	for i, l := range labels {
		var tp, fp, fn int64
		tp = cm[i][i]
		for j := range labels {
			if j != i {
				fn += cm[i][j]
				fp += cm[j][i]
			}
		}
		perClass[l] = prf(tp, fp, fn)
	}
	if p.Task == TaskBinary {
		pos := opts.PositiveLabel
		var tp, fp, fn int64
		for t, row := range p.Confusion {
			for q, n := range row {
				switch {
				case t == pos && q == pos:
					tp += n
				case t == pos:
					fn += n
				case q == pos:
					fp += n
				}
			}
		}
		m := prf(tp, fp, fn)
		rep.Performance["precision"] = m.Precision
		rep.Performance["recall"] = m.Recall
		rep.Performance["f1"] = m.F1
		if p.PosScores.N > 0 && p.NegScores.N > 0 {
			pv, pw := p.PosScores.Sorted()
			nv, nw := p.NegScores.Sorted()
			rep.Performance["roc_auc"] = aucWeighted(pv, pw, nv, nw)
			rep.Performance["log_loss"] = p.LogLossSum / float64(p.PosScores.N+p.NegScores.N)
			rep.ROC = rocCurve(pv, pw, nv, nw)
		}
	} else {
		var macro, weighted float64
		var support int64
		for _, l := range labels {
			m := perClass[l]
			macro += m.F1
			weighted += m.F1 * float64(m.Support)
			support += m.Support
		}
		rep.Performance["f1_macro"] = macro / float64(len(labels))
		if support > 0 {
			rep.Performance["f1_weighted"] = weighted / float64(support)
		}
	}
	rep.Classes = labels
	rep.PerClass = perClass
	rep.ConfusionMatrix = cm
}

// prf is sklearn's precision, recall and F1 of one class, 0 when undefined.
func prf(tp, fp, fn int64) ClassMetrics {
	m := ClassMetrics{Support: tp + fn}
	if tp+fp > 0 {
		m.Precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		m.Recall = float64(tp) / float64(tp+fn)
	}
	if m.Precision+m.Recall > 0 {
		m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
	}
	return m
}

// ROCAUC returns the area under the ROC curve of scores for labels
// (true = positive), as sklearn.metrics.roc_auc_score: tied scores count ½.
// It is NaN when one class is absent.
func ROCAUC(scores []float64, positive []bool) float64 {
	var pos, neg []float64
	for i, s := range scores {
		if positive[i] {
			pos = append(pos, s)
		} else {
			neg = append(neg, s)
		}
	}
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN()
	}
	return aucWeighted(sortedCopy(pos), nil, sortedCopy(neg), nil)
}

// aucWeighted is P(S+ > S−) + ½ P(S+ = S−) from sorted weighted samples.
func aucWeighted(pv, pw, nv, nw []float64) float64 {
	tp, tn := totalWeight(pv, pw), totalWeight(nv, nw)
	var below, sum float64 // below: negative weight strictly below current value
	j := 0
	for i := 0; i < len(pv); {
		x := pv[i]
		for j < len(nv) && nv[j] < x {
			below += weightAt(nw, j)
			j++
		}
		eq := 0.0
		for k := j; k < len(nv) && nv[k] == x; k++ {
			eq += weightAt(nw, k)
		}
		var wpos float64
		for i < len(pv) && pv[i] == x {
			wpos += weightAt(pw, i)
			i++
		}
		sum += wpos * (below + eq/2)
	}
	return sum / (tp * tn)
}

// rocCurve returns the ROC curve of sorted weighted samples of the positive
// and negative rows' scores at up to ROCPoints thresholds: the distinct
// scores, evenly thinned, plus one above them all for the (0,0) corner.
func rocCurve(pv, pw, nv, nw []float64) []ROCPoint {
	all := make([]float64, 0, len(pv)+len(nv))
	all = append(append(all, pv...), nv...)
	sort.Float64s(all)
	all = slices.Compact(all)
	if len(all) > ROCPoints-1 {
		thin := make([]float64, ROCPoints-1)
		for i := range thin {
			thin[i] = all[i*(len(all)-1)/(len(thin)-1)]
		}
		all = slices.Compact(thin)
	}
	tp, tn := totalWeight(pv, pw), totalWeight(nv, nw)
	// Thresholds ascend, so the weight below each one only grows.
	var i, j int
	var posBelow, negBelow float64
	out := make([]ROCPoint, 0, len(all)+1)
	for _, t := range all {
		for ; i < len(pv) && pv[i] < t; i++ {
			posBelow += weightAt(pw, i)
		}
		for ; j < len(nv) && nv[j] < t; j++ {
			negBelow += weightAt(nw, j)
		}
		out = append(out, ROCPoint{Threshold: t, FPR: (tn - negBelow) / tn, TPR: (tp - posBelow) / tp})
	}
	return append(out, ROCPoint{Threshold: math.Nextafter(all[len(all)-1], math.Inf(1))})
}
