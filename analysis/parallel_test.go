package analysis_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

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

// sequential hides a CSV's Split (not its row estimate): the sequential
// path.
type sequential struct{ *format.CSV }

func (s sequential) Split(int) []analysis.Rows { return nil }

func csvRows(t *testing.T, data string, split bool) analysis.Rows {
	t.Helper()
	c, err := format.NewCSVString(data, format.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !split {
		return sequential{c}
	}
	return c
}

func analyzeCSV(t *testing.T, ref, cur string, split bool, opts analysis.Options) *analysis.Report {
	t.Helper()
	return analyzeCSV2(t, ref, cur, split, split, opts)
}

func analyzeCSV2(t *testing.T, ref, cur string, splitRef, splitCur bool, opts analysis.Options) *analysis.Report {
	t.Helper()
	rep, err := analysis.Analyze(csvRows(t, ref, splitRef), csvRows(t, cur, splitCur), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// splitOpts make windows of a few 10k rows take the sketch path, which is
// the one that splits.
var splitOpts = analysis.Options{Task: analysis.TaskBinary, Target: "label", Score: "score", ExactLimit: 2000, SketchCap: 1024}

// TestSplitProfilesEqualSequential: a CSV held whole in memory (as a mapped
// file is) and large enough to be sketched is profiled in parts on every
// core and merged in order. Every count of the profile equals the
// sequential one: rows, invalid lines, missing and non-numeric cells,
// categories, duplicate event ids across parts, times, the confusion
// matrix; min and max exactly, moments and sums to rounding.
func TestSplitProfilesEqualSequential(t *testing.T) {
	defer analysis.SetSplitPartBytes(64 << 10)()
	data := splitWindow(2, 30000, 0.3, false)
	schema, err := analysis.InferSchema(strings.Split("event_id,time,x1,x2,x3,color,flag,label,score", ","), nil, splitOpts)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := analysis.ProfileRows(csvRows(t, data, false), schema, splitOpts)
	if err != nil {
		t.Fatal(err)
	}
	par, err := analysis.ProfileRows(csvRows(t, data, true), schema, splitOpts)
	if err != nil {
		t.Fatal(err)
	}
	if seq.DuplicateIDs == 0 || seq.Invalid == 0 || seq.IsExact() || par.IsExact() {
		t.Fatalf("fixture: %d duplicates, %d invalid lines, exact %v/%v", seq.DuplicateIDs, seq.Invalid, seq.IsExact(), par.IsExact())
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) }
	if seq.Rows != par.Rows || seq.Invalid != par.Invalid || seq.DuplicateIDs != par.DuplicateIDs ||
		seq.TimeN != par.TimeN || seq.TimeMin != par.TimeMin || seq.TimeMax != par.TimeMax {
		t.Errorf("rows %d/%d, invalid %d/%d, duplicates %d/%d, times %d %v %v / %d %v %v", seq.Rows, par.Rows, seq.Invalid, par.Invalid,
			seq.DuplicateIDs, par.DuplicateIDs, seq.TimeN, seq.TimeMin, seq.TimeMax, par.TimeN, par.TimeMin, par.TimeMax)
	}
	sp, pp := seq.Perf, par.Perf
	if sp.Labeled != pp.Labeled || sp.PredictionMissing != pp.PredictionMissing || !reflect.DeepEqual(sp.Confusion, pp.Confusion) ||
		sp.PosScores.N != pp.PosScores.N || sp.NegScores.N != pp.NegScores.N || !near(sp.LogLossSum, pp.LogLossSum) {
		t.Errorf("performance: %+v / %+v", sp, pp)
	}
	for i, sc := range seq.Columns {
		pc := par.Columns[i]
		sm, sv := sc.Moments()
		pm, pv := pc.Moments()
		if sc.Count != pc.Count || sc.Missing != pc.Missing || sc.Mismatch != pc.Mismatch || sc.NonFinite != pc.NonFinite ||
			sc.N() != pc.N() || sc.Min != pc.Min || sc.Max != pc.Max || !reflect.DeepEqual(sc.Categories, pc.Categories) ||
			sc.Other != pc.Other || !near(sm, pm) || !near(sv, pv) {
			t.Errorf("column %s: %d %d %d %d n=%d [%v, %v] mean %v var %v; split: %d %d %d %d n=%d [%v, %v] mean %v var %v", sc.Name,
				sc.Count, sc.Missing, sc.Mismatch, sc.NonFinite, sc.N(), sc.Min, sc.Max, sm, sv,
				pc.Count, pc.Missing, pc.Mismatch, pc.NonFinite, pc.N(), pc.Min, pc.Max, pm, pv)
		}
	}
}

// TestSplitQuotedFallsBack: a quoted field in any part (it may hold a line
// end, so the cuts may be wrong) sends the whole file down the sequential
// path: the same report, bit for bit.
func TestSplitQuotedFallsBack(t *testing.T) {
	defer analysis.SetSplitPartBytes(64 << 10)()
	ref := splitWindow(1, 20000, 0, false)
	cur := splitWindow(2, 20000, 0.3, true)
	seq, _ := json.Marshal(analyzeCSV2(t, ref, cur, false, false, splitOpts))
	par, _ := json.Marshal(analyzeCSV2(t, ref, cur, false, true, splitOpts))
	if string(seq) != string(par) {
		t.Errorf("reports differ:\n%s\n%s", seq, par)
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

type parquetRow struct {
	X1    *float64 `parquet:"x1,optional"`
	X2    float64  `parquet:"x2"`
	Color string   `parquet:"color,dict"`
}

// noSplit hides the Split of any Rows (keeping its row estimate).
type noSplit struct{ analysis.Rows }

func (n noSplit) EstimatedRows() int64 { return n.Rows.(analysis.RowEstimator).EstimatedRows() }

// TestSplitParquetRowGroups: a Parquet window large enough to be sketched
// is profiled a part of row groups per core; counts equal the sequential
// profile's, and the drift verdicts the exact path's.
func TestSplitParquetRowGroups(t *testing.T) {
	defer analysis.SetSplitPartBytes(32 << 10)()
	write := func(seed uint64, shift float64) []byte {
		r := rand.New(rand.NewPCG(seed, 9))
		var recs []parquetRow
		for i := range 30000 {
			x := r.NormFloat64() + shift
			rec := parquetRow{X1: &x, X2: r.ExpFloat64(), Color: []string{"red", "green", "blue"}[r.IntN(3)]}
			if i%97 == 0 {
				rec.X1 = nil
			}
			recs = append(recs, rec)
		}
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[parquetRow](&buf, parquet.MaxRowsPerRowGroup(2500))
		if _, err := w.Write(recs); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	ref, cur := write(1, 0), write(2, 0.5)
	open := func(data []byte, split bool) analysis.Rows {
		rows, err := format.OpenParquet(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if !split {
			return noSplit{rows}
		}
		return rows
	}
	sk := analysis.Options{ExactLimit: 2000, SketchCap: 1024}
	exact, err := analysis.Analyze(open(ref, false), open(cur, false), analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := analysis.Analyze(open(ref, false), open(cur, false), sk)
	if err != nil {
		t.Fatal(err)
	}
	par, err := analysis.Analyze(open(ref, true), open(cur, true), sk)
	if err != nil {
		t.Fatal(err)
	}
	// out_of_range is counted on the sketch's weighted points: an estimate
	// in sketch mode, which two sketches of the same values may differ on.
	noRange := func(q map[string]float64) map[string]float64 {
		q = maps.Clone(q)
		delete(q, "out_of_range")
		return q
	}
	if par.Mode != "sketch" || seq.Rows != par.Rows || !reflect.DeepEqual(noRange(seq.Quality), noRange(par.Quality)) {
		t.Errorf("mode %s; rows %+v / %+v; quality %v / %v", par.Mode, seq.Rows, par.Rows, seq.Quality, par.Quality)
	}
	for i, f := range exact.Features {
		g := par.Features[i]
		gq, sq := *g.Quality, *seq.Features[i].Quality
		gq.OutOfRange, sq.OutOfRange = 0, 0
		if g.Drift.Drifted != f.Drift.Drifted || math.Abs(g.Drift.Statistic-f.Drift.Statistic) > 0.02 || gq != sq {
			t.Errorf("%s: split %v (%.4g), exact %v (%.4g); quality %+v / %+v", f.Name, g.Drift.Drifted, g.Drift.Statistic,
				f.Drift.Drifted, f.Drift.Statistic, g.Quality, seq.Features[i].Quality)
		}
	}
}
