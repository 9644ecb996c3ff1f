package analysis_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/store/format"
)

// splitWindow writes a CSV window with every kind of cell the profiler
// counts: full-precision numbers, missing and non-numeric cells, a
// category, a 0/1 flag, labels and scores, event ids repeated far apart
// (so duplicates straddle parts), times, and malformed lines.
func splitWindow(seed uint64, rows int, shift float64, quote bool) string {
	r := rand.New(rand.NewPCG(seed, 3))
	var b strings.Builder
	b.WriteString("event_id,time,x1,x2,x3,color,flag,label,score\n")
	for i := range rows {
		id := i
		if i%997 == 5 {
			id = i / 2 // a duplicate of an earlier row, often in another part
		}
		x1 := strconv.FormatFloat(r.NormFloat64()+shift, 'g', -1, 64)
		x2 := strconv.FormatFloat(r.ExpFloat64()*1e-3, 'g', -1, 64)
		x3 := strconv.FormatFloat(r.NormFloat64(), 'f', 6, 64)
		switch i % 211 {
		case 3:
			x1 = ""
		case 7:
			x2 = "n/a"
		case 11:
			x3 = "NaN"
		}
		color := []string{"red", "green", "blue"}[r.IntN(3)]
		if quote && i == rows*3/4 {
			color = "\"dark\nred\"" // a line end inside a quoted field
		}
		score := r.Float64()
		label := 0
		if r.Float64() < score {
			label = 1
		}
		fmt.Fprintf(&b, "e%d,%d,%s,%s,%s,%s,%d,%d,%s\n", id, 1700000000+i, x1, x2, x3, color, i%2, label,
			strconv.FormatFloat(score, 'g', -1, 64))
		if i%1009 == 13 {
			b.WriteString("broken,line\n")
		}
	}
	return b.String()
}

// hidden hides a CSV's Split and row estimate: the sequential path.
type hidden struct{ analysis.Rows }

func analyzeCSV(t *testing.T, ref, cur string, split bool, opts analysis.Options) *analysis.Report {
	t.Helper()
	rr, err := format.NewCSVString(ref, format.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cr, err := format.NewCSVString(cur, format.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var r, c analysis.Rows = rr, cr
	if !split {
		r, c = hidden{rr}, hidden{cr}
	}
	rep, err := analysis.Analyze(r, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestSplitProfilesEqualSequential: a CSV held whole in memory (as a mapped
// file is) is profiled in parts on every core and merged in order. In exact
// mode the report equals the sequential one, every count included (rows,
// missing, mismatches, invalid lines, duplicate ids across parts, the
// confusion matrix); float sums merged from parts may differ in the last
// bits only. A quoted line end in any part sends the whole file down the
// sequential path.
func TestSplitProfilesEqualSequential(t *testing.T) {
	defer analysis.SetSplitPartBytes(64 << 10)()
	opts := analysis.Options{Task: analysis.TaskBinary, Target: "label", Score: "score"}
	for _, quote := range []bool{false, true} {
		t.Run(fmt.Sprintf("quoted=%v", quote), func(t *testing.T) {
			ref := splitWindow(1, 20000, 0, false)
			cur := splitWindow(2, 15000, 0.3, quote)
			seq := analyzeCSV(t, ref, cur, false, opts)
			par := analyzeCSV(t, ref, cur, true, opts)
			if seq.Mode != "exact" || par.Mode != "exact" {
				t.Fatalf("modes %s / %s", seq.Mode, par.Mode)
			}
			if seq.Quality["duplicate_event_ids"] == 0 || seq.Rows.Invalid == 0 {
				t.Fatalf("fixture lacks duplicates (%v) or invalid lines (%d)", seq.Quality["duplicate_event_ids"], seq.Rows.Invalid)
			}
			assertSameJSON(t, seq, par, 1e-12)
		})
	}
}

// TestSplitSketchesAgree: above the exact limit, parts sketch from their
// first value and the sketches merge in part order, so the profile does
// not depend on the number of cores, and its verdicts are the exact path's.
func TestSplitSketchesAgree(t *testing.T) {
	defer analysis.SetSplitPartBytes(64 << 10)()
	ref := splitWindow(3, 30000, 0, false)
	for _, shift := range []float64{0, 0.5} {
		cur := splitWindow(4, 30000, shift, false)
		for _, m := range []string{"auto", "wasserstein", "psi", "jensenshannon"} {
			exact := analyzeCSV(t, ref, cur, false, analysis.Options{DriftMethod: m})
			sk := analysis.Options{DriftMethod: m, ExactLimit: 2000, SketchCap: 1024}
			var first []byte
			for _, procs := range []int{1, 3} {
				prev := runtime.GOMAXPROCS(procs)
				par := analyzeCSV(t, ref, cur, true, sk)
				runtime.GOMAXPROCS(prev)
				if par.Mode != "sketch" {
					t.Fatalf("mode %s", par.Mode)
				}
				b, _ := json.Marshal(par)
				if first == nil {
					first = b
				} else if string(b) != string(first) {
					t.Errorf("%s: the report changed with GOMAXPROCS", m)
				}
				for i, f := range exact.Features {
					g := par.Features[i]
					if g.Drift.Drifted != f.Drift.Drifted || math.Abs(g.Drift.Statistic-f.Drift.Statistic) > 0.02 {
						t.Errorf("%s shift=%v %s: sketch %v (%.4g), exact %v (%.4g)", m, shift, f.Name,
							g.Drift.Drifted, g.Drift.Statistic, f.Drift.Drifted, f.Drift.Statistic)
					}
				}
			}
		}
	}
}

// assertSameJSON compares two values through their JSON, numbers within a
// relative tolerance.
func assertSameJSON(t *testing.T, want, got any, tol float64) {
	t.Helper()
	var a, b any
	for _, p := range []struct {
		v   any
		out *any
	}{{want, &a}, {got, &b}} {
		j, err := json.Marshal(p.v)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(j, p.out); err != nil {
			t.Fatal(err)
		}
	}
	var walk func(path string, x, y any)
	walk = func(path string, x, y any) {
		switch xv := x.(type) {
		case map[string]any:
			yv, ok := y.(map[string]any)
			if !ok || len(xv) != len(yv) {
				t.Errorf("%s: %v vs %v", path, x, y)
				return
			}
			for k := range xv {
				walk(path+"."+k, xv[k], yv[k])
			}
		case []any:
			yv, ok := y.([]any)
			if !ok || len(xv) != len(yv) {
				t.Errorf("%s: %v vs %v", path, x, y)
				return
			}
			for i := range xv {
				walk(fmt.Sprintf("%s[%d]", path, i), xv[i], yv[i])
			}
		case float64:
			yv, ok := y.(float64)
			if !ok || math.Abs(xv-yv) > tol*math.Max(1, math.Abs(xv)) {
				t.Errorf("%s: %v vs %v", path, x, y)
			}
		default:
			if x != y {
				t.Errorf("%s: %v vs %v", path, x, y)
			}
		}
	}
	walk("report", a, b)
}
