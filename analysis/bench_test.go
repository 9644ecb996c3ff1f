package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
)

func benchSamples(n int) (ref, cur []float64) {
	a := genSample(genSpec{Seed: 1, N: n, Kind: "normal", Scale: 1})
	b := genSample(genSpec{Seed: 2, N: n, Kind: "normal", Loc: 0.1, Scale: 1})
	return a, b
}

// BenchmarkDrift times every method on two 200k-value samples (sorting
// included, as Analyze does it once per column).
func BenchmarkDrift(b *testing.B) {
	ref, cur := benchSamples(200000)
	for _, m := range Methods {
		b.Run(m, func(b *testing.B) {
			o := Options{DriftMethod: m}.withDefaults()
			r, c := make([]float64, len(ref)), make([]float64, len(cur))
			for b.Loop() {
				// fresh unsorted copies: the sort is part of the cost
				copy(r, ref)
				copy(c, cur)
				rp := &ColumnProfile{Values: &Sample{Exact: r, N: int64(len(r))}, M2: float64(len(r))}
				cp := &ColumnProfile{Values: &Sample{Exact: c, N: int64(len(c))}}
				numericDrift(rp, cp, o, &FeatureQuality{})
			}
		})
	}
	b.Run("ks-exact-10000", func(b *testing.B) {
		for b.Loop() {
			KS(ref[:10000], cur[:9000])
		}
	})
}

// BenchmarkAnalyze runs Analyze end to end on 200k×10 rows per window (rows
// generated in memory; the CSV reader is benchmarked in store/format).
func BenchmarkAnalyze(b *testing.B) {
	n := 200000
	if testing.Short() {
		n = 20000
	}
	cols, ref := normalColumns(1, n, 9, 0)
	_, cur := normalColumns(2, n, 9, 0.2)
	b.Run(strconv.Itoa(n)+"x10", func(b *testing.B) {
		for b.Loop() {
			if _, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSortFloats(b *testing.B) {
	x, _ := benchSamples(200000)
	y := make([]float64, len(x))
	for b.Loop() {
		copy(y, x)
		sortFloats(y)
	}
}

// BenchmarkSortDecimals sorts six-place values, as read from "%.6f" CSV:
// 200k (an exact window's column) and a sketch's level 0 (4 × 8192 + 1,
// the slices of 1M values in turn).
func BenchmarkSortDecimals(b *testing.B) {
	x, _ := benchSamples(1 << 20)
	for i := range x {
		x[i] = math.Round(x[i]*1e6) / 1e6
	}
	for _, n := range []int{200000, 4*8192 + 1} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			y := make([]float64, n)
			off := 0
			for b.Loop() {
				if off+n > len(x) {
					off = 0
				}
				copy(y, x[off:off+n])
				off += n
				sortFloats(y)
			}
		})
	}
}

// BenchmarkAnalyzeAdditions prices the row-level analyses of issue 17
// (estimated performance, weak segments, multivariate drift) on a binary
// task with a score, 200k rows per window (20k under -short): "off" is
// today's analysis (RowSample < 0), "on" the default, "bands" adds a
// reference band for one metric (a rule with threshold: auto); and on a
// multiclass task with class scores.
func BenchmarkAnalyzeAdditions(b *testing.B) {
	n := 200000
	if testing.Short() {
		n = 20000
	}
	cols, ref := scoredRows(1, n, 0, 2, false)
	_, cur := scoredRows(2, n, 0.2, 2, false)
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"off", Options{RowSample: -1}},
		{"on", Options{}},
		{"bands", Options{BandMetrics: []string{"performance.accuracy"}}},
	} {
		o := c.opts
		o.Task, o.Target, o.Prediction, o.Score = binaryOpts.Task, binaryOpts.Target, binaryOpts.Prediction, binaryOpts.Score
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The same features beside a 3-class model's overconfident class
	// probabilities (so the calibration is fitted and bootstrapped):
	// "multiclass-off" is today's analysis, "multiclass-on" the default.
	mcols, mref := multiclassBenchRows(1, n, 0, true)
	_, mcur := multiclassBenchRows(2, n, 0.6, false)
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"multiclass-off", Options{RowSample: -1}},
		{"multiclass-on", Options{}},
	} {
		o := c.opts
		o.Task, o.Target, o.Prediction, o.ClassScores = multiclassOpts.Task, multiclassOpts.Target, multiclassOpts.Prediction, multiclassOpts.ClassScores
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Analyze(newMemRows(mcols, mref), newMemRows(mcols, mcur), o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// multiclassBenchRows puts scoredRows' features (x0..x3, cat) beside
// sharpClassRows' class probabilities (logits doubled), prediction and
// label (blank unless labeled).
func multiclassBenchRows(seed uint64, n int, shift float64, labeled bool) ([]string, [][]string) {
	fcols, frows := scoredRows(seed, n, shift, 2, false)
	ccols, crows := sharpClassRows(seed, n, shift, 2, labeled)
	cols := append(slices.Clone(fcols[:5]), ccols[1:]...)
	rows := make([][]string, n)
	for i := range rows {
		rows[i] = append(slices.Clone(frows[i][:5]), crows[i][1:]...)
	}
	return cols, rows
}

// BenchmarkSketch streams 4M six-place values (as read from "%.6f" CSV)
// into a column's quantile sketch: the compactions (sorting level 0,
// merging into the sorted levels above) and the moments, per value, as a
// large window's profile pays them.
func BenchmarkSketch(b *testing.B) {
	x, _ := benchSamples(200000)
	for i := range x {
		x[i] = math.Round(x[i]*1e6) / 1e6
	}
	const n = 4000000
	for b.Loop() {
		c := &ColumnProfile{Kind: KindNumeric, Values: newSample(250000, 8192)}
		c.Values.toSketch()
		for i := range n {
			c.addNumber(x[i%len(x)])
		}
		c.settle()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/value")
}

// BenchmarkParseDecimal parses 1M distinct cells (the branch predictor
// cannot learn them, as in a real column) of N(0, 1) values written as
// pandas writes float64 ("full": Python's repr, 16–17 significant digits)
// and with six decimals.
func BenchmarkParseDecimal(b *testing.B) {
	x, _ := benchSamples(1 << 20)
	for _, shape := range []struct {
		name   string
		format func(float64) string
	}{
		{"full", func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }},
		{"six-decimals", func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }},
	} {
		b.Run(shape.name, func(b *testing.B) {
			cells := make([]string, len(x))
			for i, v := range x {
				cells[i] = shape.format(v)
			}
			sum := 0.0
			i := 0
			for b.Loop() {
				v, _ := parseDecimal(cells[i&(1<<20-1)])
				sum += v
				i++
			}
			_ = sum
		})
	}
}

// BenchmarkShortMantissa reads six-decimal cells (1M, normal values times
// scale, as a CSV line holds them) as the profiler does: one word of digits
// while a column has had no cell of more than eight digits, two after.
// Scales 1 and 10 stay one word; 100 and 1000 mix 2-, 3- and 4-digit
// magnitudes and turn wide at their first long cell. two-words reads every
// cell as two words.
func BenchmarkShortMantissa(b *testing.B) {
	x, _ := benchSamples(1 << 20)
	for _, scale := range []float64{1, 10, 100, 1000} {
		var text []byte
		var bounds [][2]int
		for _, v := range x {
			start := len(text)
			text = strconv.AppendFloat(text, v*scale, 'f', 6, 64)
			bounds = append(bounds, [2]int{start, len(text)})
			text = append(text, ',')
		}
		line := string(text) // the cells lie in one string, as in a CSV block
		cells := make([]string, len(bounds))
		for i, bd := range bounds {
			cells[i] = line[bd[0]:bd[1]]
		}
		for _, twoWords := range []bool{false, true} {
			name := fmt.Sprint("scale-", scale)
			if twoWords {
				name += "/two-words" // every cell, as a wide column
			}
			b.Run(name, func(b *testing.B) {
				var lane [128]uint64
				n, wide := 0, twoWords
				for b.Loop() {
					for _, c := range cells {
						u, _, wider := shortMantissa(c, wide)
						wide = wide || wider
						lane[n&127] = u
						n++
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/cell")
			})
		}
	}
}

// BenchmarkSketchSorted sorts the points of a sketch of 5M values (the
// drift tests' first step on a large window), made by one stream (level 0
// unsorted) and merged from 14 parts (every level ascending).
func BenchmarkSketchSorted(b *testing.B) {
	x, _ := benchSamples(1 << 20)
	part := func(k int) *Sample {
		s := newSample(250000, 8192)
		s.toSketch()
		for i := range 357000 {
			s.Add(math.Round(x[(k*357000+i)&(1<<20-1)]*1e6) / 1e6)
		}
		return s
	}
	for _, merged := range []bool{false, true} {
		b.Run(map[bool]string{false: "streamed", true: "merged"}[merged], func(b *testing.B) {
			s := part(0)
			for k := 1; k < 14; k++ {
				if merged {
					p := part(k)
					p.sortLevel0()
					s.Merge(p)
				} else {
					for i := range 357000 {
						s.Add(math.Round(x[(k*357000+i)&(1<<20-1)]*1e6) / 1e6)
					}
				}
			}
			for b.Loop() {
				s.sortedPoints = nil
				s.Sorted()
			}
		})
	}
}
