package analysis

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"testing"
)

// normalColumns makes n rows of k numeric features drawn from N(shift, 1)
// plus a categorical column whose mix moves with shift.
func normalColumns(seed uint64, n, k int, shift float64) ([]string, [][]string) {
	cols := make([]string, 0, k+1)
	for j := 0; j < k; j++ {
		cols = append(cols, "f"+strconv.Itoa(j))
	}
	cols = append(cols, "cat")
	u := lcgUniforms(seed, n*(k*4+1))
	rows := make([][]string, n)
	for i := range rows {
		r := make([]string, k+1)
		for j := 0; j < k; j++ {
			base := (i*(k*4+1) + j*4)
			// Irwin–Hall(4) rescaled to unit variance: cheap and smooth enough
			z := (u[base] + u[base+1] + u[base+2] + u[base+3] - 2) * math.Sqrt(3)
			r[j] = strconv.FormatFloat(z+shift, 'f', 6, 64)
		}
		c := u[i*(k*4+1)+k*4]
		switch {
		case c < 0.5-shift*0.3:
			r[k] = "a"
		case c < 0.8:
			r[k] = "b"
		default:
			r[k] = "c"
		}
		rows[i] = r
	}
	return cols, rows
}

func analyzeGen(t testing.TB, nref, ncur int, shift float64, opts Options) *Report {
	cols, ref := normalColumns(1, nref, 3, 0)
	_, cur := normalColumns(2, ncur, 3, shift)
	rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestAutoDrift is the contract of the auto method: no alarm on stationary
// data at any size, and a 0.5σ mean shift is caught at every size from 500
// rows (ks at p < 0.01 on a small reference; calibrated distances above).
func TestAutoDrift(t *testing.T) {
	sizes := []int{500, 1000, 1001, 20000}
	if !testing.Short() {
		sizes = append(sizes, 200000)
	}
	for _, n := range sizes {
		for _, shift := range []float64{0, 0.5} {
			t.Run(strconv.Itoa(n)+"/shift="+strconv.FormatFloat(shift, 'g', -1, 64), func(t *testing.T) {
				rep := analyzeGen(t, n, n, shift, Options{})
				wantMethod := MethodKS
				if n > 1000 {
					wantMethod = MethodWasserstein
				}
				for _, f := range rep.Features {
					if n <= 1000 && shift == 0 {
						// p-value tests: a stationary feature is flagged 1% of
						// the time by construction; the dataset verdict below
						// must still hold.
						continue
					}
					if f.Kind == KindNumeric && f.Drift.Method != wantMethod {
						t.Errorf("%s: method %s, want %s", f.Name, f.Drift.Method, wantMethod)
					}
					if f.Kind == KindNumeric && f.Drift.Drifted != (shift > 0) {
						t.Errorf("%s: drifted=%v at shift %v (%+v)", f.Name, f.Drift.Drifted, shift, f.Drift)
					}
					if f.Kind == KindCategorical && shift == 0 && f.Drift.Drifted {
						t.Errorf("%s: stationary categorical flagged (%+v)", f.Name, f.Drift)
					}
				}
				if rep.DatasetDrift.Drifted != (shift > 0) {
					t.Errorf("dataset drift %+v at shift %v", rep.DatasetDrift, shift)
				}
			})
		}
	}
}

// TestShardedProfilesAgree splits a window into shards, profiles them with
// a small ExactLimit so every column becomes a sketch, merges them and checks
// that every method reaches the exact path's verdict with a close statistic.
func TestShardedProfilesAgree(t *testing.T) {
	n := 40000
	if testing.Short() {
		n = 12000
	}
	for _, shift := range []float64{0, 0.5} {
		cols, ref := normalColumns(11, n, 3, 0)
		_, cur := normalColumns(12, n, 3, shift)
		for _, m := range Methods {
			opts := Options{DriftMethod: m}
			exact, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), opts)
			if err != nil {
				t.Fatal(err)
			}
			sk := opts
			sk.ExactLimit, sk.SketchCap = 1000, 2048
			schema, _ := InferSchema(cols, ref[:SchemaSampleRows], sk)
			profile := func(rows [][]string) *Profile {
				var whole *Profile
				for s := 0; s < 4; s++ {
					p, err := ProfileRows(newMemRows(cols, rows[s*len(rows)/4:(s+1)*len(rows)/4]), schema, sk)
					if err != nil {
						t.Fatal(err)
					}
					// shards travel as JSON between activities
					b, err := json.Marshal(p)
					if err != nil {
						t.Fatal(err)
					}
					p = new(Profile)
					if err := json.Unmarshal(b, p); err != nil {
						t.Fatal(err)
					}
					if whole == nil {
						whole = p
					} else if err := whole.Merge(p); err != nil {
						t.Fatal(err)
					}
				}
				return whole
			}
			rp, cp := profile(ref), profile(cur)
			if rp.IsExact() || rp.Rows != int64(n) {
				t.Fatalf("merged profile: exact=%v rows=%d", rp.IsExact(), rp.Rows)
			}
			got, err := CompareProfiles(rp, cp, sk)
			if err != nil {
				t.Fatal(err)
			}
			if got.Mode != "sketch" || exact.Mode != "exact" {
				t.Errorf("modes %s/%s", got.Mode, exact.Mode)
			}
			for i, f := range exact.Features {
				g := got.Features[i]
				// p-value tests at large n turn on tiny differences; sketches
				// must agree with them on clear cases, and on everything for
				// the distances (what auto uses on large windows).
				if g.Drift.Drifted != f.Drift.Drifted && (!isPValueMethod(g.Drift.Method) || shift > 0) {
					t.Errorf("%s shift=%v %s: sketch verdict %v (%.4g), exact %v (%.4g)", m, shift, f.Name,
						g.Drift.Drifted, g.Drift.Statistic, f.Drift.Drifted, f.Drift.Statistic)
				}
				if d := math.Abs(g.Drift.Statistic - f.Drift.Statistic); f.Kind == KindNumeric && d > 0.02*math.Max(1, f.Drift.Statistic) && !isPValueMethod(g.Drift.Method) {
					t.Errorf("%s shift=%v %s: sketch statistic %.5g, exact %.5g", m, shift, f.Name, g.Drift.Statistic, f.Drift.Statistic)
				}
				if g.Drift.Method == MethodKS && math.Abs(g.Drift.Statistic-f.Drift.Statistic) > 0.005 {
					t.Errorf("ks shift=%v %s: sketch statistic %.5g, exact %.5g", shift, f.Name, g.Drift.Statistic, f.Drift.Statistic)
				}
			}
		}
	}
}

func TestSampleSketchRankError(t *testing.T) {
	s := newSample(1000, 256)
	u := lcgUniforms(5, 100000)
	for _, v := range u {
		s.Add(v)
	}
	v, w := s.Sorted()
	if tw := totalWeight(v, w); tw != 100000 || s.N != 100000 {
		t.Fatalf("weight %v, n %d", tw, s.N)
	}
	for _, q := range []float64{0.01, 0.1, 0.5, 0.9, 0.99} {
		got := quantileWeighted(v, w, q)
		if math.Abs(got-q) > 0.01 {
			t.Errorf("q%.2f = %.4f", q, got)
		}
	}
}

func TestDriftEdgeCases(t *testing.T) {
	tests := []struct {
		name        string
		ref, cur    [][]string
		method      string
		wantNote    bool
		wantDrifted bool
	}{
		{"all-missing current column is skipped", [][]string{{"1"}, {"2"}}, [][]string{{""}, {""}}, MethodKS, true, false},
		{"all-missing reference column is skipped", [][]string{{""}, {""}}, [][]string{{"1"}, {"2"}}, MethodWasserstein, true, false},
		{"identical constant samples do not drift", [][]string{{"3"}, {"3"}, {"3"}}, [][]string{{"3"}, {"3"}}, MethodWasserstein, false, false},
		{"constant reference, moved current drifts (std floor)", [][]string{{"3"}, {"3"}}, [][]string{{"3.01"}, {"3.01"}}, MethodWasserstein, false, true},
		{"NaN cells are missing", [][]string{{"1"}, {"NaN"}, {"2"}}, [][]string{{"1"}, {"2"}, {"nan"}}, MethodKS, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Analyze(newMemRows([]string{"x"}, tc.ref), newMemRows([]string{"x"}, tc.cur), Options{DriftMethod: tc.method})
			if err != nil {
				t.Fatal(err)
			}
			d := rep.Features[0].Drift
			if (d.Note != "") != tc.wantNote || d.Drifted != tc.wantDrifted {
				t.Errorf("drift %+v", d)
			}
		})
	}
}

func TestEmptyCurrentWindow(t *testing.T) {
	cols, ref := normalColumns(1, 100, 2, 0)
	rep, err := Analyze(newMemRows(cols, ref), newMemRows(cols, nil), Options{Task: TaskBinary, Target: "f0", Prediction: "f1"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows.Current != 0 || rep.DatasetDrift.Drifted || len(rep.Performance) != 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestSortFloatsIsAPermutationInFloatOrder(t *testing.T) {
	normal := genSample(genSpec{Seed: 9, N: 50000, Kind: "normal", Scale: 3})
	normal[0], normal[1], normal[2], normal[3] = math.Inf(-1), math.Inf(1), 0, math.Copysign(0, -1)
	constant := make([]float64, 5000)
	for i := range constant {
		constant[i] = 2.5
	}
	// Integers below 2^8 differ only in a few exponent and mantissa bits:
	// most digit positions are skipped, leaving an odd number of passes.
	small := make([]float64, 5000)
	for i := range small {
		small[i] = float64((i * 7919) % 200)
	}
	// Six-place decimals, as parsed from "%.6f": sorted as integers.
	decimals := make([]float64, 20000)
	for i := range decimals {
		decimals[i] = float64(int64(normal[i%len(normal)]*1e6)) / 1e6
	}
	// Spans of 2^17..2^24 take two wide digits; wider ones, bytes.
	wide := make([]float64, 20000)
	for i := range wide {
		wide[i] = float64(int64(normal[i%len(normal)]*3e8)) / 1e6
	}
	// One value with more places than the others: back to the IEEE bits.
	mixed := slices.Clone(decimals)
	mixed[len(mixed)-1] = 0.1234567891234
	// The IEEE bits are sorted on their top 36 first: values that agree on
	// them are put in order one by one (a few pairs here), or, when there
	// are too many (all of them, in close), sorted on every bit.
	pairs := slices.Clone(normal)
	for i := 4; i < 200; i += 2 {
		pairs[i+1] = math.Nextafter(pairs[i], math.Inf(1)) // the next double up, before it in the input
		pairs[i], pairs[i+1] = pairs[i+1], pairs[i]
	}
	close := make([]float64, 30000)
	for i := range close {
		close[i] = 1 + float64((i*7919)%30000)*0x1p-45
	}
	float32s := slices.Clone(normal)
	for i := range float32s {
		float32s[i] = float64(float32(float32s[i]))
	}
	for name, x := range map[string][]float64{"normal": normal, "constant": constant, "small integers": small,
		"decimals": decimals, "wide decimals": wide, "mixed": mixed, "pairs": pairs, "close": close,
		"float32": float32s} {
		want := slices.Clone(x)
		slices.Sort(want)
		sortFloats(x)
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(want[i]) && x[i] != want[i] {
				t.Fatalf("%s: at %d got %v, want %v", name, i, x[i], want[i])
			}
		}
	}
}

// The branch-free unit-weight walks agree with the general weighted walks
// (given weights of one), on continuous data and on data made of ties.
func TestUnitWeightWalksMatchWeightedWalks(t *testing.T) {
	ones := func(n int) []float64 {
		w := make([]float64, n)
		for i := range w {
			w[i] = 1
		}
		return w
	}
	for seed := uint64(1); seed <= 40; seed++ {
		na, nb := 1+int(seed*37%500), 1+int(seed*53%700)
		a := genSample(genSpec{Seed: seed, N: na, Kind: "normal", Scale: 1})
		b := genSample(genSpec{Seed: seed + 100, N: nb, Kind: "normal", Scale: 1 + float64(seed%3)})
		if seed%2 == 0 { // ties everywhere, across and within samples
			for i := range a {
				a[i] = math.Round(a[i] * 2)
			}
			for i := range b {
				b[i] = math.Round(b[i] * 2)
			}
		}
		sortFloats(a)
		sortFloats(b)
		if got, want := ksStatistic(a, b), ksStatisticWeighted(a, ones(na), b, ones(nb)); math.Abs(got-want) > 1e-15 {
			t.Errorf("seed %d: ks %v, weighted walk %v", seed, got, want)
		}
		if got, want := wasserstein(a, b), wassersteinWeighted(a, ones(na), b, ones(nb)); math.Abs(got-want) > 1e-12*math.Max(1, want) {
			t.Errorf("seed %d: wasserstein %v, weighted walk %v", seed, got, want)
		}
	}
}

func TestOutsideCountsBelowAndAboveTheRange(t *testing.T) {
	v := []float64{-3, -2, -2, 0, 1, 1, 4, 5, 5}
	w := []float64{1, 2, 2, 1, 1, 1, 3, 1, 1}
	for _, tc := range []struct{ lo, hi, want, wantW float64 }{
		{-2, 4, 3, 3}, {-10, 10, 0, 0}, {1, 1, 7, 11}, {6, 7, 9, 13}, {-2.5, 4.5, 3, 3},
	} {
		if got := outside(v, nil, tc.lo, tc.hi); got != tc.want {
			t.Errorf("[%v, %v]: %v outside, want %v", tc.lo, tc.hi, got, tc.want)
		}
		if got := outside(v, w, tc.lo, tc.hi); got != tc.wantW {
			t.Errorf("[%v, %v] weighted: %v outside, want %v", tc.lo, tc.hi, got, tc.wantW)
		}
	}
}

// estimated is a stream that knows its length, like a CSV file of known size.
type estimated struct {
	Rows
	n int64
}

func (e estimated) EstimatedRows() int64 { return e.n }

// A stream announcing far more rows than the exact limit is sketched from its
// first value (no exact buffer to build and compact), with the verdicts and
// statistics of the exact path; one announcing fewer keeps its values exactly.
func TestAnnouncedLargeStreamsSketchFromTheStart(t *testing.T) {
	const n = 20000
	cols, ref := normalColumns(21, n, 2, 0)
	_, cur := normalColumns(22, n, 2, 0.5)
	schema, _ := InferSchema(cols, ref[:SchemaSampleRows], Options{})
	exactRef, _ := ProfileRows(newMemRows(cols, ref), schema, Options{})
	exactCur, _ := ProfileRows(newMemRows(cols, cur), schema, Options{})
	sk := Options{ExactLimit: 2000}
	rp, _ := ProfileRows(estimated{newMemRows(cols, ref), n}, schema, sk)
	cp, _ := ProfileRows(estimated{newMemRows(cols, cur), n}, schema, sk)
	for _, c := range rp.Columns {
		if c.Values != nil && (c.Values.IsExact() || len(c.Values.Levels) == 0 || c.Values.N != n) {
			t.Fatalf("%s: exact=%v N=%d, want a sketch of %d values", c.Name, c.Values.IsExact(), c.Values.N, n)
		}
	}
	for _, m := range []string{MethodKS, MethodWasserstein} {
		exact, err := CompareProfiles(exactRef, exactCur, Options{DriftMethod: m})
		if err != nil {
			t.Fatal(err)
		}
		got, err := CompareProfiles(rp, cp, Options{DriftMethod: m, ExactLimit: 2000})
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range exact.Features {
			g := got.Features[i].Drift
			if g.Drifted != f.Drift.Drifted || math.Abs(g.Statistic-f.Drift.Statistic) > 0.01*math.Max(1, f.Drift.Statistic) {
				t.Errorf("%s %s: sketch %v %.5g, exact %v %.5g", m, f.Name, g.Drifted, g.Statistic, f.Drift.Drifted, f.Drift.Statistic)
			}
		}
	}
	small, _ := ProfileRows(estimated{newMemRows(cols, ref[:1500]), 1500}, schema, sk)
	if v := small.Columns[0].Values; !v.IsExact() || cap(v.Exact) < 1500 {
		t.Errorf("1500 announced rows: exact=%v cap %d, want exact values reserved at once", v.IsExact(), cap(v.Exact))
	}
}
