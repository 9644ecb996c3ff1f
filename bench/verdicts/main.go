package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/vigilml/vigil/analysis"
)

// genRows streams n generated rows.
type genRows struct {
	n, i      int
	r         *rand.Rand
	shift     float64 // numeric mean shift, in σ
	catShift  bool    // move 10 points of share in cat and flag
	row       []string
	buf       []byte
	numerical int
}

// numericFeatures is -numeric: how many numeric features a window has.
var numericFeatures = 10

func newGen(n int, seed uint64, shift float64, catShift bool) *genRows {
	return &genRows{n: n, r: rand.New(rand.NewPCG(seed, 0x5eed)), shift: shift, catShift: catShift,
		row: make([]string, numericFeatures+2), buf: make([]byte, 0, 12*16), numerical: numericFeatures}
}

func (g *genRows) Columns() []string {
	var cols []string
	for j := range g.numerical {
		cols = append(cols, "f"+strconv.Itoa(j))
	}
	return append(cols, "cat", "flag")
}
func (g *genRows) Invalid() int64 { return 0 }
func (g *genRows) Err() error     { return nil }
func (g *genRows) Row() []string  { return g.row }
func (g *genRows) Next() bool {
	if g.i >= g.n {
		return false
	}
	g.i++
	g.buf = g.buf[:0]
	ends := make([]int, g.numerical)
	for j := 0; j < g.numerical; j++ {
		g.buf = strconv.AppendFloat(g.buf, g.r.NormFloat64()+g.shift, 'f', 6, 64)
		ends[j] = len(g.buf)
	}
	s := string(g.buf)
	start := 0
	for j := 0; j < g.numerical; j++ {
		g.row[j] = s[start:ends[j]]
		start = ends[j]
	}
	a, b := 0.5, 0.8 // cumulative shares of a, b
	p1 := 0.5
	if g.catShift {
		a, p1 = 0.4, 0.6
	}
	switch u := g.r.Float64(); {
	case u < a:
		g.row[g.numerical] = "a"
	case u < b:
		g.row[g.numerical] = "b"
	default:
		g.row[g.numerical] = "c"
	}
	g.row[g.numerical+1] = "0"
	if g.r.Float64() < p1 {
		g.row[g.numerical+1] = "1"
	}
	return true
}

type tally struct{ numeric, numericN, cat, catN int }

func (t *tally) add(rep *analysis.Report) {
	for _, f := range rep.Features {
		if f.Drift.Note != "" {
			continue
		}
		if strings.HasPrefix(f.Name, "f") && f.Name != "flag" {
			t.numericN++
			if f.Drift.Drifted {
				t.numeric++
			}
		} else {
			t.catN++
			if f.Drift.Drifted {
				t.cat++
			}
		}
	}
}

func rate(k, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.4f", float64(k)/float64(n))
}

func main() {
	refRows := flag.Int("ref", 2000, "reference rows")
	sizesFlag := flag.String("sizes", "50,100,250,500,1000,2500,5000,10000,100000,1000000,10000000", "current-window sizes")
	trials := flag.Int("trials", 200, "windows per size up to 10,000 rows (fewer above: trials·10^4/n, at least 2)")
	seed := flag.Uint64("seed", 1, "base seed")
	flag.IntVar(&numericFeatures, "numeric", 10, "numeric features per window (0: only the categorical ones, for more categorical trials)")
	powerMax := flag.Int("power-max-rows", 100000, "measure detection of shifted windows up to this size (above: false alarms only)")
	flag.Parse()
	var sizes []int
	for _, s := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			log.Fatalf("-sizes: %v", err)
		}
		sizes = append(sizes, n)
	}
	fmt.Printf("| rows | trials | FAR numeric | FAR categorical | power 0.5σ | power 0.2σ | power 10 points | threshold of f0 (source) | seconds |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range sizes {
		t := *trials
		if n > 10000 {
			t = max(2, *trials*10000/n)
		}
		started := time.Now()
		var null, half, fifth, cat tally
		var thr string
		for k := 0; k < t; k++ {
			s := *seed*1_000_003 + uint64(n)*7919 + uint64(k)*4
			run := func(shift float64, catShift bool, into *tally, salt uint64) *analysis.Report {
				rep, err := analysis.Analyze(newGen(*refRows, s+salt, 0, false), newGen(n, s+salt+1_000_000_007, shift, catShift), analysis.Options{})
				if err != nil {
					log.Fatal(err)
				}
				into.add(rep)
				return rep
			}
			rep := run(0, false, &null, 0)
			if k == 0 && numericFeatures > 0 {
				d := rep.Features[0].Drift
				thr = fmt.Sprintf("%s %.4g (%s)", d.Method, d.Threshold, d.ThresholdSource)
			}
			if n <= *powerMax {
				run(0.5, false, &half, 1)
				if n >= 1000 {
					run(0.2, false, &fifth, 2)
				}
				run(0, true, &cat, 3)
			}
		}
		p02 := "–"
		if fifth.numericN > 0 {
			p02 = rate(fifth.numeric, fifth.numericN)
		}
		fmt.Printf("| %d | %d | %s | %s | %s | %s | %s | %s | %.1f |\n", n, t, rate(null.numeric, null.numericN), rate(null.cat, null.catN),
			rate(half.numeric, half.numericN), p02, rate(cat.cat, cat.catN), thr, time.Since(started).Seconds())
	}
}
