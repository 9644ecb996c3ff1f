package analysis

import (
	"encoding/json"
	"os"
	"testing"
)

// The golden values of estimate.go, segments.go and multivariate.go come
// from scipy/sklearn via testdata/estimate.py, inputs included.

func loadEstimateGolden(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/estimate_golden.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 analysis/testdata/estimate.py)", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func bools(a any) []bool {
	var out []bool
	for _, x := range a.([]any) {
		out = append(out, x.(bool))
	}
	return out
}

func TestGoldenIsotonicMatchesSklearn(t *testing.T) {
	g := loadEstimateGolden(t)
	for _, c := range g["isotonic"].([]any) {
		c := c.(map[string]any)
		t.Run(c["name"].(string), func(t *testing.T) {
			fit := IsotonicFit(floats(c["x"]), floats(c["y"]))
			want := floats(c["predict"])
			for i, v := range floats(c["grid"]) {
				check(t, "isotonic predict", fit.Predict(v), want[i], 1e-12)
			}
		})
	}
}

func TestGoldenHosmerLemeshow(t *testing.T) {
	g := loadEstimateGolden(t)
	for _, c := range g["hosmer_lemeshow"].([]any) {
		c := c.(map[string]any)
		t.Run(c["name"].(string), func(t *testing.T) {
			stat, p := HosmerLemeshow(floats(c["p"]), bools(c["y"]), 10)
			check(t, "statistic", stat, num(c, "stat"), 1e-9)
			check(t, "p-value", p, num(c, "p_value"), 1e-9)
		})
	}
}

func TestGoldenCBPEExpectedMetricsAreSklearnWeighted(t *testing.T) {
	g := loadEstimateGolden(t)
	for _, c := range g["cbpe"].([]any) {
		c := c.(map[string]any)
		t.Run(c["name"].(string), func(t *testing.T) {
			var pred []bool
			for _, v := range floats(c["pred"]) {
				pred = append(pred, v == 1)
			}
			est := CBPE(floats(c["prob"]), pred, floats(c["score"]))
			for _, m := range []string{"accuracy", "precision", "recall", "f1", "roc_auc"} {
				check(t, m, est[m].Value, num(c, m), 1e-12)
				if !(est[m].Lower < est[m].Value && est[m].Value < est[m].Upper) {
					t.Errorf("%s band [%g, %g] does not surround %g", m, est[m].Lower, est[m].Upper, est[m].Value)
				}
			}
		})
	}
}

func TestGoldenWelchT(t *testing.T) {
	g := loadEstimateGolden(t)
	for _, c := range g["welch"].([]any) {
		c := c.(map[string]any)
		t.Run(c["name"].(string), func(t *testing.T) {
			a, b := floats(c["a"]), floats(c["b"])
			ma, va := meanVar(a)
			mb, vb := meanVar(b)
			tt, p := WelchT(float64(len(a)), ma, va, float64(len(b)), mb, vb)
			check(t, "t", tt, num(c, "t"), 1e-9)
			check(t, "p", p, num(c, "p"), 1e-9)
		})
	}
}

func meanVar(x []float64) (mean, variance float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	return mean, stdDev(x) * stdDev(x)
}

func TestGoldenBenjaminiHochberg(t *testing.T) {
	c := loadEstimateGolden(t)["bh"].(map[string]any)
	got, want := BenjaminiHochberg(floats(c["p"])), floats(c["adjusted"])
	for i := range want {
		check(t, "adjusted p", got[i], want[i], 1e-12)
	}
}

func TestGoldenROCAUCOfHeldOutScores(t *testing.T) {
	c := loadEstimateGolden(t)["auroc"].(map[string]any)
	check(t, "auroc", ROCAUC(floats(c["scores"]), bools(c["labels"])), num(c, "auc"), 1e-12)
}

func TestGoldenMulticlassCBPEMatchesSklearn(t *testing.T) {
	g := loadEstimateGolden(t)
	for _, c := range g["multiclass_cbpe"].([]any) {
		c := c.(map[string]any)
		t.Run(c["name"].(string), func(t *testing.T) {
			matrix := func(a any) [][]float64 {
				var out [][]float64
				for _, r := range a.([]any) {
					out = append(out, floats(r))
				}
				return out
			}
			var pred []int
			for _, v := range floats(c["pred"]) {
				pred = append(pred, int(v))
			}
			est := MulticlassCBPE(matrix(c["prob"]), matrix(c["score"]), pred)
			for _, m := range []string{"accuracy", "precision", "recall", "f1", "roc_auc"} {
				check(t, m, est[m].Value, num(c, m), 1e-12)
				if !(est[m].Lower < est[m].Value && est[m].Value < est[m].Upper) {
					t.Errorf("%s band [%g, %g] does not surround %g", m, est[m].Lower, est[m].Upper, est[m].Value)
				}
			}
		})
	}
}

// The multiclass calibration's checks and calibrated probabilities equal
// those written out from its definition with sklearn's IsotonicRegression
// (testdata/estimate.py), for an over- and an underconfident model and a
// calibrated one that is left alone.
func TestGoldenMulticlassCalibrationMatchesSklearnIsotonic(t *testing.T) {
	g := loadEstimateGolden(t)
	matrix := func(a any) [][]float64 {
		var out [][]float64
		for _, r := range a.([]any) {
			out = append(out, floats(r))
		}
		return out
	}
	ints := func(a any) []int {
		var out []int
		for _, v := range floats(a) {
			out = append(out, int(v))
		}
		return out
	}
	for _, c := range g["multiclass_calibration"].([]any) {
		c := c.(map[string]any)
		t.Run(c["name"].(string), func(t *testing.T) {
			cal := FitMulticlassCalibration(matrix(c["ref_prob"]), ints(c["ref_pred"]), ints(c["ref_label"]))
			for k, want := range floats(c["p_values"]) {
				check(t, "one-vs-rest p-value", cal.PValues[k], want, 1e-9)
			}
			check(t, "top-label p-value", cal.TopPValue, num(c, "top_p_value"), 1e-9)
			if cal.Calibrated() != c["calibrated"].(bool) {
				t.Fatalf("Calibrated() = %v, want %v", cal.Calibrated(), c["calibrated"])
			}
			want := matrix(c["calibrated_prob"])
			pred := ints(c["pred"])
			for i, p := range matrix(c["prob"]) {
				got := cal.Apply(p, pred[i])
				sum := 0.0
				for k := range got {
					check(t, "calibrated probability", got[k], want[i][k], 1e-12)
					sum += got[k]
				}
				check(t, "row sum", sum, 1, 1e-12)
			}
		})
	}
}
