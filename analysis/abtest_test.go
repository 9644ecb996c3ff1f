package analysis

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

// Golden values from scipy/sklearn via testdata/golden_compare.py.
func loadCompareGolden(t *testing.T) map[string][]map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/golden_compare.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 analysis/testdata/golden_compare.py)", err)
	}
	var m map[string][]map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGoldenBinomTestAndMcNemar(t *testing.T) {
	g := loadCompareGolden(t)
	for _, c := range g["binomtest"] {
		p, err := BinomTest(int(num(c, "k")), int(num(c, "n")), num(c, "p"))
		if err != nil {
			t.Fatal(err)
		}
		check(t, "binomtest", p, num(c, "pvalue"), 1e-10)
	}
	for _, c := range g["mcnemar"] {
		p, err := McNemar(int(num(c, "only_a")), int(num(c, "only_b")))
		if err != nil {
			t.Fatal(err)
		}
		check(t, "mcnemar", p, num(c, "pvalue"), 1e-10)
	}
}

func TestGoldenWilcoxon(t *testing.T) {
	for _, c := range loadCompareGolden(t)["wilcoxon"] {
		t.Run(c["name"].(string), func(t *testing.T) {
			s, p, err := Wilcoxon(genSample(spec(c["d"])))
			if err != nil {
				t.Fatal(err)
			}
			check(t, "statistic", s, num(c, "statistic"), 1e-12)
			check(t, "p-value", p, num(c, "pvalue"), 1e-10)
		})
	}
}

func TestGoldenWelch(t *testing.T) {
	for _, c := range loadCompareGolden(t)["welch"] {
		t.Run(c["name"].(string), func(t *testing.T) {
			iv, p, err := Welch(genSample(spec(c["a"])), genSample(spec(c["b"])), num(c, "level"))
			if err != nil {
				t.Fatal(err)
			}
			check(t, "difference", iv.Difference, num(c, "difference"), 1e-12)
			check(t, "lower", iv.Lower, num(c, "lower"), 1e-9)
			check(t, "upper", iv.Upper, num(c, "upper"), 1e-9)
			check(t, "p-value", p, num(c, "pvalue"), 1e-9)
		})
	}
}

func TestGoldenPairedBootstrap(t *testing.T) {
	for _, c := range loadCompareGolden(t)["bootstrap"] {
		t.Run(c["name"].(string), func(t *testing.T) {
			a, b := genSample(spec(c["a"])), genSample(spec(c["b"]))
			var diff func(idx []int) float64
			switch c["name"] {
			case "accuracy":
				diff = func(idx []int) float64 {
					var s float64
					for _, i := range idx {
						s += b[i] - a[i]
					}
					return s / float64(len(idx))
				}
			case "auc":
				y := genSample(spec(c["labels"]))
				for i := range b {
					b[i] += num(c, "b_label_shift") * y[i]
				}
				diff = func(idx []int) float64 {
					sa, sb, pos := make([]float64, len(idx)), make([]float64, len(idx)), make([]bool, len(idx))
					for k, i := range idx {
						sa[k], sb[k], pos[k] = a[i], b[i], y[i] == 1
					}
					return ROCAUC(sb, pos) - ROCAUC(sa, pos)
				}
			}
			iv, err := PairedBootstrap(len(a), diff, BootstrapOptions{
				Rounds: int(num(c, "rounds")), Level: num(c, "level"), Seed: uint64(num(c, "seed")),
			})
			if err != nil {
				t.Fatal(err)
			}
			check(t, "difference", iv.Difference, num(c, "difference"), 1e-12)
			check(t, "lower", iv.Lower, num(c, "lower"), 1e-12)
			check(t, "upper", iv.Upper, num(c, "upper"), 1e-12)
		})
	}
}

func TestComparisonRefusesWhatItCannotAnswer(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"wilcoxon of all-zero differences", func() error { _, _, err := Wilcoxon([]float64{0, 0, 0}); return err }()},
		{"welch with one event", func() error { _, _, err := Welch([]float64{1}, []float64{1, 2}, 0.95); return err }()},
		{"welch of constants", func() error { _, _, err := Welch([]float64{1, 1}, []float64{2, 2}, 0.95); return err }()},
		{"bootstrap of one event", func() error {
			_, err := PairedBootstrap(1, func([]int) float64 { return 0 }, BootstrapOptions{})
			return err
		}()},
		{"sequence below its minimum", func() error {
			var s Sequence
			_ = s.Add(1)
			_, err := s.Interval(SequentialOptions{})
			return err
		}()},
	}
	for _, c := range cases {
		if !errors.Is(c.err, ErrTooFewPairs) {
			t.Errorf("%s: err = %v, want ErrTooFewPairs", c.name, c.err)
		}
	}
	if _, err := BinomTest(5, 3, 0.5); err == nil {
		t.Error("BinomTest(k > n) gave no error")
	}
	if _, _, err := Wilcoxon([]float64{1, math.NaN()}); err == nil {
		t.Error("Wilcoxon with NaN gave no error")
	}
	if _, err := PairedBootstrap(10, func([]int) float64 { return math.NaN() }, BootstrapOptions{Rounds: 10}); err == nil {
		t.Error("bootstrap of an undefined metric gave no error")
	}
}
