package analysis

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

// genWindow makes n rows of a numeric feature N(shift, 1), a categorical
// feature with shares a/b/c = 50/30/20% (a/b = 40/40% when catShift) and a
// 0/1 flag (60% ones when catShift).
func genWindow(seed uint64, n int, shift float64, catShift bool) ([]string, [][]string) {
	r := rand.New(rand.NewPCG(seed, 7))
	rows := make([][]string, n)
	a, p1 := 0.5, 0.5
	if catShift {
		a, p1 = 0.4, 0.6
	}
	for i := range rows {
		c := "c"
		switch u := r.Float64(); {
		case u < a:
			c = "a"
		case u < 0.8:
			c = "b"
		}
		flag := "0"
		if r.Float64() < p1 {
			flag = "1"
		}
		rows[i] = []string{strconv.FormatFloat(r.NormFloat64()+shift, 'f', 6, 64), c, flag}
	}
	return []string{"x", "cat", "flag"}, rows
}

// TestCalibratedThresholds is the contract of auto on a 2,000-row
// reference: at a fixed set of seeds, stationary windows of every size raise
// no alarm, while a 0.5σ shift is caught from 100 rows, a 0.2σ shift from
// 5,000, and a 10-point share change from 5,000; small windows are judged
// against a calibrated threshold, large ones against the fixed floor.
func TestCalibratedThresholds(t *testing.T) {
	tests := []struct {
		rows       int
		shift      float64
		catShift   bool
		wantDrift  map[string]bool
		wantSource string // of x
	}{
		{rows: 50, wantDrift: map[string]bool{"x": false, "cat": false, "flag": false}, wantSource: ThresholdCalibrated},
		{rows: 100, wantDrift: map[string]bool{"x": false, "cat": false, "flag": false}, wantSource: ThresholdCalibrated},
		{rows: 300, wantDrift: map[string]bool{"x": false, "cat": false, "flag": false}, wantSource: ThresholdCalibrated},
		{rows: 20000, wantDrift: map[string]bool{"x": false, "cat": false, "flag": false}, wantSource: ThresholdFixed},
		{rows: 100, shift: 0.5, wantDrift: map[string]bool{"x": true}, wantSource: ThresholdCalibrated},
		{rows: 1000, shift: 0.5, wantDrift: map[string]bool{"x": true}},
		{rows: 5000, shift: 0.2, wantDrift: map[string]bool{"x": true}},
		{rows: 5000, catShift: true, wantDrift: map[string]bool{"cat": true, "flag": true}},
		{rows: 50000, catShift: true, wantDrift: map[string]bool{"cat": true, "flag": true}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d rows, shift %vσ, share change %v", tc.rows, tc.shift, tc.catShift), func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				cols, ref := genWindow(seed, 2000, 0, false)
				_, cur := genWindow(seed+100, tc.rows, tc.shift, tc.catShift)
				rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), Options{})
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range rep.Features {
					want, ok := tc.wantDrift[f.Name]
					if ok && f.Drift.Drifted != want {
						t.Errorf("seed %d: %s (%s) drifted=%v, want %v: %+v", seed, f.Name, f.Kind, f.Drift.Drifted, want, f.Drift)
					}
					if f.Name == "x" && tc.wantSource != "" && f.Drift.ThresholdSource != tc.wantSource {
						t.Errorf("seed %d: threshold source %q, want %q (%+v)", seed, f.Drift.ThresholdSource, tc.wantSource, f.Drift)
					}
					if f.Drift.ThresholdSource == ThresholdCalibrated && f.Drift.Threshold <= autoFloor(f.Kind) {
						t.Errorf("seed %d: %s calibrated threshold %v not above the floor", seed, f.Name, f.Drift.Threshold)
					}
				}
			}
		})
	}
}

func autoFloor(kind string) float64 {
	if kind == KindNumeric {
		return AutoNumericFloor
	}
	return AutoCategoricalFloor
}

// TestCalibrationIsDeterministic: the same reference gives the same
// thresholds, run after run (seeded by content, cached per process).
func TestCalibrationIsDeterministic(t *testing.T) {
	cols, ref := genWindow(9, 3000, 0, false)
	_, cur := genWindow(10, 120, 0, false)
	var first []float64
	for run := 0; run < 2; run++ {
		clear(calCache.m)
		rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range rep.Features {
			if run == 0 {
				first = append(first, f.Drift.Threshold)
			} else if f.Drift.Threshold != first[i] {
				t.Errorf("%s: threshold %v then %v", f.Name, first[i], f.Drift.Threshold)
			}
		}
	}
}

// TestFewIntegerValuesAreCategorical: 0/1 flags and small integer codes are
// categorical by default and the report says why; other numbers stay numeric.
func TestFewIntegerValuesAreCategorical(t *testing.T) {
	tests := []struct {
		name     string
		value    func(i int) string
		want     string
		wantNote bool
	}{
		{"0/1 flag", func(i int) string { return strconv.Itoa(i % 2) }, KindCategorical, true},
		{"codes 1..10", func(i int) string { return strconv.Itoa(1 + i%10) }, KindCategorical, true},
		{"codes 0..10 (11 values)", func(i int) string { return strconv.Itoa(i % 11) }, KindNumeric, false},
		{"two decimals", func(i int) string { return []string{"0.5", "1.5"}[i%2] }, KindNumeric, false},
		{"measurements", func(i int) string { return strconv.FormatFloat(float64(i)/7, 'f', 3, 64) }, KindNumeric, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := make([][]string, 500)
			for i := range rows {
				rows[i] = []string{tc.value(i)}
			}
			rep, err := Analyze(newMemRows([]string{"v"}, rows), newMemRows([]string{"v"}, rows), Options{})
			if err != nil {
				t.Fatal(err)
			}
			f := rep.Features[0]
			if f.Kind != tc.want || (f.KindNote != "") != tc.wantNote {
				t.Errorf("kind %s (note %q), want %s (note: %v)", f.Kind, f.KindNote, tc.want, tc.wantNote)
			}
		})
	}
}

// TestBaselineDriftConstraintIsAFloor: a baseline's drift constraint under
// auto is the floor; a small window is held to its calibrated threshold, so
// a stationary one breaks no drift constraint and a shifted one does.
func TestBaselineDriftConstraintIsAFloor(t *testing.T) {
	cols, ref := genWindow(3, 2000, 0, false)
	b, err := BuildBaseline(newMemRows(cols, ref), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rows      int
		shift     float64
		wantDrift bool
	}{
		{rows: 60, wantDrift: false},
		{rows: 200, wantDrift: false},
		{rows: 200, shift: 1, wantDrift: true},
		{rows: 5000, shift: 0.5, wantDrift: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d rows shift %v", tc.rows, tc.shift), func(t *testing.T) {
			_, cur := genWindow(4, tc.rows, tc.shift, false)
			rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), Options{Baseline: b})
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, v := range rep.Violations {
				if v.Feature == "x" && v.Constraint == "drift" {
					got = true
					if v.Limit < AutoNumericFloor {
						t.Errorf("limit %v below the floor", v.Limit)
					}
				}
			}
			if got != tc.wantDrift {
				t.Errorf("drift violation on x = %v, want %v (violations %+v, drift %+v)", got, tc.wantDrift, rep.Violations, rep.Features[0].Drift)
			}
		})
	}
}
