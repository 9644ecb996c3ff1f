package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// threeClassWindow draws n rows of a 3-class task whose features are shifted
// by shift: the model's probabilities are the true ones (a calibrated
// model), its prediction their argmax, and each label is drawn from them.
func threeClassWindow(seed uint64, n int, shift float64) (prob [][]float64, pred, label []int) {
	r := rand.New(rand.NewPCG(seed, 3))
	w := [3][2]float64{{1.5, 0}, {-0.8, 1.3}, {-0.7, -1.3}}
	for range n {
		x := [2]float64{r.NormFloat64() + shift, r.NormFloat64() - shift/2}
		p := make([]float64, 3)
		var sum float64
		for c := range p {
			p[c] = math.Exp(w[c][0]*x[0] + w[c][1]*x[1])
			sum += p[c]
		}
		best := 0
		for c := range p {
			p[c] /= sum
			if p[c] > p[best] {
				best = c
			}
		}
		u, y := r.Float64(), 0
		for ; y < 2 && u >= p[y]; y++ {
			u -= p[y]
		}
		prob, pred, label = append(prob, p), append(pred, best), append(label, y)
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
