package analysis

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseNumberMatchesStrconv(t *testing.T) {
	cases := []string{"0", "-0", "1", "-1.5", "+2.25", "0.1", "123456789012345", "1234567890123456", "0.000001",
		"3.141592653589793", "1e5", "1E-3", ".5", "5.", "-.25", "00012.5000", "9007199254740993", "0.30000000000000004",
		"1.0000000000000000000001", "NaN", "inf", "-Inf", "abc", "", "-", ".", "1.2.3", " 7 ", "0x10", "1_000",
		// the eight-bytes-at-once path: the last 8 bytes hold decimals and
		// what precedes them
		"-0.806033", "12345678.12345678", "1.23.456", "1.2345a78", "1234567.x", "-1234567.", "0.1234567", "99999999.9",
		"1.:234567", "1.0/23456", "123456789012.1234567", "1234567890123.1234567",
		// the branch-free path of 8 to 15 bytes: integer digits from the
		// first eight bytes, decimals from the last eight
		"-1234567.1234567", "+0.000001", "1234567.1", "-1.2345678", "0.1234567", "+1234567.5", "-.1234567",
		"1.23456e5", "12.3e-045", "-0.12345.", "1234567.", "12345678.1234567", "--1.23456", "-+1.23456",
		"1,234.567", "12\x0034.5678", "-0.0000000", "00000000.5", "9999999.9999999", "0.9999999",
		// full precision, 16 to 28 bytes, and its edges
		"-0.005739991964052805", "1234567.123456789012", "0.0000000000000000001", "0.00000000000000000001",
		"9.999999999999999999", "99.99999999999999999", "99.999999999999999999", "+0.123456789", "1.23456789e-05",
		"12345678.123456789", "0.1234567890123456789", "1.1234567890123456789", "-0.000000000", "0.123456789.1",
		"-9007199254740993.5", "0.30000000000000004441", "1.7976931348623157e308", "0.10000000000000000555",
		// the branch-free path of 16 to 27 bytes: integer digits from the
		// first eight bytes, decimals in three words; its edges
		"1.632397224334301", "-0.958879655934022", "0.009435573617768561", "-1.3140602545896758",
		"1234567.123456789", "-1234567.123456789012", "0.0000000000000000001", "0.1234567890123456789",
		"-0.1234567890123456789", "+1.234567890123456789", "12.34567890123456789", "1234567.1234567890123",
		"12345678.12345678901", "1.23456789012345678e3", "1.2345678901234567e", "1.234567890123456x",
		"-0.000000000000000000", "0.00000000000000000000", "1.2345678.901234567", "--1.234567890123456",
		"1 .234567890123456", "1.23456789 0123456", "9999999.9999999999999", "0000001.000000000000000001",
		"-0.00014335131006482094", "0.00000001234567890123456", "0.000000001234567890123456789",
		"0.10000000000000000000001", "1.00000000000000000000", "0.12345678901234567890", "-204887.33042349"}
	u := lcgUniforms(3, 2000)
	for i, x := range u {
		cases = append(cases, strconv.FormatFloat((x-0.5)*1e6, 'f', i%12, 64), strconv.FormatFloat(x, 'g', -1, 64))
	}
	for _, c := range cases {
		got, ok := parseNumber(c)
		want, err := strconv.ParseFloat(c, 64)
		if err != nil {
			if w2, err2 := strconv.ParseFloat(" "+c, 64); err2 == nil {
				want, err = w2, nil
			}
		}
		if c == " 7 " {
			want, err = 7, nil
		}
		if c == "0x10" || c == "1_000" {
			// strconv accepts hex and underscores only with a base prefix;
			// whatever it says, we say the same
		}
		if ok != (err == nil) || (ok && math.Float64bits(got) != math.Float64bits(want) && !(got != got && want != want)) {
			t.Errorf("parseNumber(%q) = %v, %v; strconv %v, %v", c, got, ok, want, err)
		}
	}
}

// TestParseDecimalFullPrecision: the numbers pandas and numpy write (the
// shortest round-trip text, 16–17 significant digits, exponents below 1e-4)
// take the fast path, and come out as strconv's to the bit; so do the
// boundaries of Clinger's and Eisel–Lemire's ranges, or they decline.
func TestParseDecimalFullPrecision(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 16))
	var fast []string
	for range 200000 {
		v := r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		fast = append(fast, strconv.FormatFloat(v, 'g', -1, 64), strconv.FormatFloat(v, 'e', 16, 64),
			strconv.FormatFloat(v, 'f', -1, 64)[:min(21, len(strconv.FormatFloat(v, 'f', -1, 64)))])
	}
	for i, s := range fast[:3000] {
		// repr ('g') forms below 10^12 must all take the fast path. The
		// others may decline: above, the 17 digits of a large double can be
		// its exact value, which Eisel–Lemire cannot tell from a tie.
		v, _ := strconv.ParseFloat(s, 64)
		if _, ok := parseDecimal(s); !ok && i%3 == 0 && math.Abs(v) < 1e12 {
			t.Errorf("parseDecimal(%q) declined a full-precision value", s)
		}
	}
	edges := []string{"9007199254740992", "9007199254740993", "9007199254740993.0", "18446744073709551615",
		"1.7976931348623157e308", "1.7976931348623159e308", "2.2250738585072014e-308", "2.2250738585072011e-308",
		"4.9e-324", "1e-400", "1e400", "1e23", "8.5e22", "9.999999999999999e22", "0.000000000000000000000000001",
		"123456789012345678", "1234567890123456789", "12345678901234567890", "0.1234567890123456789",
		"0.12345678901234567890", "1.00000000000000011102230246251565404236316680908203125",
		"0.30000000000000004", "-0.0", "-0e10", "0e-999", "1e-0", "1e+0", "1e", "1e+", "1e-", "e5", "-.e5", ".e5",
		"1.5e00000000000000000000000005", "7.2057594037927933e16", "5e-324", "3.0000000000000003"}
	for e := -360; e <= 360; e++ {
		edges = append(edges, fmt.Sprintf("1e%d", e), fmt.Sprintf("9.999999999999999e%d", e), fmt.Sprintf("4.4501477170144023e%d", e))
	}
	for _, s := range append(fast, edges...) {
		got, ok := parseDecimal(s)
		if !ok {
			continue
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseDecimal(%q) = %v (%#x), %v; strconv %v (%#x), %v", s, got, math.Float64bits(got), ok, want, math.Float64bits(want), err)
		}
	}
}

// TestFullPrecisionTakesTheBranchFreePath: float64 written as pandas writes
// it (Python's repr: the shortest string that reads back, 16 or 17
// significant digits) is parsed by fullDecimal whenever it has no exponent,
// to the bit as strconv; so is six-decimal data by shortDecimal. (The fast
// paths would otherwise be silently bypassed, correct but slow.)
func TestFullPrecisionTakesTheBranchFreePath(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	taken := 0
	for i := range 100000 {
		x := r.NormFloat64() * math.Pow(10, float64(i%7-1))
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if strings.ContainsAny(s, "e") || len(s) < 16 {
			continue
		}
		v, ok := fullDecimal(s)
		if !ok {
			t.Fatalf("fullDecimal(%q) declined", s)
		}
		if math.Float64bits(v) != math.Float64bits(x) {
			t.Fatalf("fullDecimal(%q) = %v, want %v", s, v, x)
		}
		taken++
		six := strconv.FormatFloat(x, 'f', 6, 64)
		if v, ok := shortDecimal(six); len(six) <= 15 && (!ok || v != mustParse(six)) {
			t.Fatalf("shortDecimal(%q) = %v, %v", six, v, ok)
		}
	}
	if taken < 50000 {
		t.Fatalf("only %d cells of full precision", taken)
	}
}

// TestShortMantissaOneWordEqualsTwo: a six-decimal cell of at most eight
// digits reads the same as one word of digits and as two (the integer
// digits and the decimals), and both equal strconv; wider tells the cells
// of more digits, which only the two words read.
func TestShortMantissaOneWordEqualsTwo(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	cells := []string{"-0.000000", "0.0000001", "+9.9999999", "-99.999999", "1234567.1", "-.1234567", "12a.45678",
		"1-2.3456", "0.1234567", "99999999.1", "+0.5000000"}
	for i := range 400000 {
		x := r.NormFloat64() * []float64{1, 10, 100, 1000, 1e-3, 1e6}[i%6]
		c := strconv.FormatFloat(x, 'f', 1+i%7, 64)
		cells = append(cells, c, "+"+c)
	}
	for _, c := range cells {
		u1, ok1, wider := shortMantissa(c, false)
		u2, ok2, _ := shortMantissa(c, true)
		if u1 != u2 || ok1 != ok2 {
			t.Fatalf("%q: one word %#x %v, two words %#x %v", c, u1, ok1, u2, ok2)
		}
		if !ok1 {
			continue
		}
		digits := strings.Count(c, "") - 1 - strings.Count(c, ".") - strings.Count(c, "-") - strings.Count(c, "+")
		if wider != (digits > 8) {
			t.Fatalf("%q: wider %v with %d digits", c, wider, digits)
		}
		if v := shortValue(u1); math.Float64bits(v) != math.Float64bits(mustParse(c)) {
			t.Fatalf("%q: %v, strconv %v", c, v, mustParse(c))
		}
	}
}

func mustParse(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzParseDecimal: the fast path either declines or agrees with strconv to
// the bit.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"-0.806033", "12345678.12345678", "1.2345a78", "0.1", "-.5", "5.",
		"0.12345678901234568", "-1.0593967667650364", "1.5e-05", "2.2250738585072014e-308", "1e23",
		"-1234567.1234567", "+0.000001", "1.23456e5", "-.1234567", "-0.005739991964052805",
		"1234567.123456789012", "0.1234567890123456789", "1.632397224334301", "-0.009435573617768561",
		"+1234567.1234567890123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseDecimal(s)
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseDecimal(%q) = %v; strconv %v, %v", s, got, want, err)
		}
	})
}

// TestSketchMergedLevelsEqualSorted: keeping the levels above 0 sorted by
// merging (instead of sorting each level when it is compacted) changes
// nothing in the sketch: the same values at every level, so the same
// statistics, through Add and Merge.
func TestSketchMergedLevelsEqualSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, capacity := range []int{64, 1000, 8192} {
		merged, resorted := newSample(100, capacity), newSample(100, capacity)
		other := newSample(100, capacity)
		for i := range 300000 {
			v := r.NormFloat64()
			if i%3 == 0 {
				v = math.Round(v*1e6) / 1e6
			}
			merged.Add(v)
			resorted.Add(v)
			resorted.sorted = nil // every level sorted from scratch, as before
			if i%7 == 0 {
				other.Add(v * 2)
			}
		}
		merged.Merge(other)
		resorted.Merge(other)
		resorted.sorted = nil
		if len(merged.Levels) != len(resorted.Levels) || merged.N != resorted.N {
			t.Fatalf("cap %d: %d/%d levels, n %d/%d", capacity, len(merged.Levels), len(resorted.Levels), merged.N, resorted.N)
		}
		for h := range merged.Levels {
			a, b := slices.Clone(merged.Levels[h]), slices.Clone(resorted.Levels[h])
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) || merged.Parity[h] != resorted.Parity[h] {
				t.Fatalf("cap %d level %d differs", capacity, h)
			}
			if merged.levelSorted(h) && !slices.IsSorted(merged.Levels[h]) {
				t.Fatalf("cap %d level %d marked sorted but is not", capacity, h)
			}
		}
	}
}

// TestSketchSortedPoints: a sketch's points come out ascending, each value
// with the weight of its level, whether level 0 is unsorted (a stream), every
// level is ascending (merged from parts whose level 0 was sorted), or the
// levels' order is unknown (decoded from JSON, a level out of order). The
// levels themselves are left as they were: level 0's order tells the moments
// which values they have yet to take in.
func TestSketchSortedPoints(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	stream := func(n int) *Sample {
		s := newSample(100, 256)
		for range n {
			s.Add(math.Round(r.NormFloat64()*1e3) / 1e3) // ties across levels
		}
		return s
	}
	streamed := stream(50000)
	merged := stream(20000)
	for range 3 {
		p := stream(20000)
		p.sortLevel0()
		merged.Merge(p)
	}
	b, _ := json.Marshal(stream(30000))
	decoded := new(Sample)
	if err := json.Unmarshal(b, decoded); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(decoded.Levels[2])
	for name, s := range map[string]*Sample{"streamed": streamed, "merged": merged, "decoded": decoded} {
		type point struct{ v, w float64 }
		var want []point
		for h, lv := range s.Levels {
			for _, v := range lv {
				want = append(want, point{v, float64(int64(1) << h)})
			}
		}
		level0 := slices.Clone(s.Levels[0])
		values, weights := s.Sorted()
		var got []point
		for i := range values {
			got = append(got, point{values[i], weights[i]})
		}
		byPoint := func(a, b point) int {
			if c := cmp.Compare(a.v, b.v); c != 0 {
				return c
			}
			return cmp.Compare(a.w, b.w)
		}
		if !slices.IsSorted(values) {
			t.Errorf("%s: values not ascending", name)
		}
		slices.SortFunc(want, byPoint)
		slices.SortFunc(got, byPoint)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d points, want %d, or other weights", name, len(got), len(want))
		}
		if !slices.Equal(s.Levels[0], level0) {
			t.Errorf("%s: Sorted reordered level 0", name)
		}
	}
}

// TestSketchSortedPointsAreTheirOwn: the points of one sketch stay as they
// were while others are sorted (the merge's second buffer is recycled), for
// every number of levels.
func TestSketchSortedPointsAreTheirOwn(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var sketches []*Sample
	var kept [][]float64
	for n := 300; n < 200000; n *= 2 {
		s := newSample(100, 64)
		for range n {
			s.Add(r.NormFloat64())
		}
		sketches = append(sketches, s)
		v, w := s.Sorted()
		kept = append(kept, append(slices.Clone(v), w...))
	}
	for i, s := range sketches {
		v, w := s.Sorted()
		if !slices.Equal(append(slices.Clone(v), w...), kept[i]) {
			t.Errorf("sketch %d (%d levels): points changed", i, len(s.Levels))
		}
		if len(v) > 0 && &v[0] != &s.sortedPoints[0][0] {
			t.Errorf("sketch %d: not cached", i)
		}
	}
}

// TestMergeSortedLevel0ChangesNoSketch: sorting a part's level 0 before it is
// merged (readyToMerge, on the part's core) leaves the merged sketch as
// merging the unsorted part would: the same values at every level.
func TestMergeSortedLevel0ChangesNoSketch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	parts := make([]*Sample, 5)
	for i := range parts {
		parts[i] = newSample(100, 512)
		for range 7000 + 1000*i {
			parts[i].Add(r.NormFloat64())
		}
	}
	clone := func(s *Sample) *Sample {
		b, _ := json.Marshal(s)
		c := new(Sample)
		if err := json.Unmarshal(b, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	plain, sorted := newSample(100, 512), newSample(100, 512)
	for _, p := range parts {
		plain.Merge(clone(p))
		q := clone(p)
		q.sortLevel0()
		if !q.levelSorted(0) || !slices.IsSorted(q.Levels[0]) {
			t.Fatal("level 0 not sorted")
		}
		sorted.Merge(q)
	}
	if len(plain.Levels) != len(sorted.Levels) || plain.N != sorted.N {
		t.Fatalf("%d/%d levels, n %d/%d", len(plain.Levels), len(sorted.Levels), plain.N, sorted.N)
	}
	for h := range plain.Levels {
		a, b := slices.Clone(plain.Levels[h]), slices.Clone(sorted.Levels[h])
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) || plain.Parity[h] != sorted.Parity[h] {
			t.Fatalf("level %d differs", h)
		}
		if sorted.levelSorted(h) && !slices.IsSorted(sorted.Levels[h]) {
			t.Fatalf("level %d marked sorted but is not", h)
		}
	}
}

// TestSketchMoments: a sketched column's mean and variance, folded in
// batches as level 0 fills, equal numpy's two-pass values over all the
// values to rounding, at any count (a partial batch at the end included),
// after a merge and after a JSON round trip.
func TestSketchMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	schema := &Schema{Columns: []SchemaColumn{{Name: "x", Kind: KindNumeric, Role: RoleFeature}}}
	opts := Options{ExactLimit: 1000, SketchCap: 512}
	for _, n := range []int{1001, 5000, 77777} {
		var all []float64
		profile := func(k int) *Profile {
			pr := NewProfiler(schema, opts)
			for range k {
				v := 1e6 + r.NormFloat64()*3 // a large mean: cancellation would show
				all = append(all, v)
				pr.Add([]string{strconv.FormatFloat(v, 'g', -1, 64)})
			}
			b, _ := json.Marshal(pr.Profile())
			p := new(Profile)
			if err := json.Unmarshal(b, p); err != nil {
				t.Fatal(err)
			}
			return p
		}
		p := profile(n)
		if err := p.Merge(profile(n / 3)); err != nil {
			t.Fatal(err)
		}
		mean, variance := p.Columns[0].Moments()
		sum := 0.0
		for _, v := range all {
			sum += v
		}
		wm := sum / float64(len(all))
		m2 := 0.0
		for _, v := range all {
			m2 += (v - wm) * (v - wm)
		}
		wv := m2 / float64(len(all))
		if p.IsExact() || math.Abs(mean-wm) > 1e-12*wm || math.Abs(variance-wv) > 1e-9*wv {
			t.Errorf("n=%d: mean %v variance %v; two-pass %v %v (exact %v)", n, mean, variance, wm, wv, p.IsExact())
		}
	}
}

// TestDecimalLaneChangesNoProfile: six-decimal cells wait in their column's
// lane and are added in batches; interleaved with cells of other shapes
// (full precision, integers, "-0.000000", missing, text), flushed by a
// full lane, by a cell of another shape or by Profile, they still enter the
// sample in row order: the profile is the one addNumber builds value by
// value, exact and sketched (compactions included, also sketched from the
// first value), and when handed out mid-stream. The mixed column also
// turns wide (shortMantissa's cells of more than eight digits).
func TestDecimalLaneChangesNoProfile(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	schema := &Schema{Columns: []SchemaColumn{
		{Name: "six", Kind: KindNumeric, Role: RoleFeature},
		{Name: "mixed", Kind: KindNumeric, Role: RoleFeature},
	}}
	cell := func(mixed bool) string {
		x := r.NormFloat64() * 30
		if !mixed {
			return strconv.FormatFloat(x, 'f', 6, 64)
		}
		switch r.IntN(9) {
		case 0:
			return strconv.FormatFloat(x, 'g', -1, 64)
		case 1:
			return strconv.Itoa(int(x))
		case 2:
			return "-0.000000"
		case 3:
			return ""
		case 4:
			return "n/a"
		case 5:
			return strconv.FormatFloat(x, 'f', 3+r.IntN(5), 64)
		}
		return strconv.FormatFloat(x, 'f', 6, 64)
	}
	for _, tc := range []struct {
		opts    Options
		reserve int64 // rows announced: a sketch from the first value
	}{{Options{ExactLimit: 100000, SketchCap: 64}, 0}, {Options{ExactLimit: 300, SketchCap: 64}, 0},
		{Options{ExactLimit: 300, SketchCap: 64}, 1 << 20}, {Options{ExactLimit: 300, SketchCap: 5}, 1 << 20}} {
		opts := tc.opts
		for _, n := range []int{1, 127, 128, 129, 5000, 40000} {
			pr := NewProfiler(schema, opts)
			wantPr := NewProfiler(schema, opts)
			pr.reserve(tc.reserve)
			wantPr.reserve(tc.reserve)
			want := wantPr.Profile()
			for i := range n {
				row := []string{cell(false), cell(true)}
				pr.Add(row)
				want.Rows++
				for j, s := range row {
					c := want.Columns[j]
					c.Count++
					if v, ok := parseNumber(s); s == "" {
						c.Missing++
					} else if ok {
						c.addNumber(v)
					} else {
						c.Mismatch++
					}
				}
				if i%7777 == 7776 {
					pr.Profile() // hands the profile out mid-stream
					for _, c := range want.Columns {
						if !c.Values.IsExact() {
							c.settle()
						}
					}
				}
			}
			got, _ := json.Marshal(pr.Profile())
			for _, c := range want.Columns {
				if !c.Values.IsExact() {
					c.settle() // as Profile does
				}
			}
			if w, _ := json.Marshal(want); string(got) != string(w) {
				t.Fatalf("%+v, reserve %d, %d rows: the profile differs from adding value by value:\n%s\n%s", opts, tc.reserve, n, got, w)
			}
		}
	}
}
