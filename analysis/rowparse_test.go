package analysis

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// shortRow reads exactly the cells shortMantissa reads, to the same
// integers: six-decimal values of every width and sign, and junk of their
// lengths built from the bytes numbers are made of.
func TestShortRowReadsWhatShortMantissaReads(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const junk = "0123456789.-+e .."
	var cells []string
	for i := range 300000 {
		switch i % 3 {
		case 0, 1:
			x := r.NormFloat64() * []float64{1, 10, 100, 1000, 1e-3, 1e6, 1e4}[i%7]
			c := strconv.FormatFloat(x, 'f', 1+r.IntN(8), 64)
			if r.IntN(4) == 0 {
				c = "+" + c
			}
			cells = append(cells, c)
		default:
			b := make([]byte, r.IntN(18))
			for j := range b {
				b[j] = junk[r.IntN(len(junk))]
			}
			cells = append(cells, string(b))
		}
	}
	cells = append(cells, "-0.000000", "+0.0000001", "9999999.9999999", "-9999999.1", "1234567.12", "-.1234567",
		"12345678.1", "1.2345678", "0000000.0000000", "-00000.0000", "1.", "1.2.3456", "--1.23456")
	var read int
	var got, want [shortRowMax]uint64
	scatteredRows(r, cells, func(row []string, pos []int32) {
		okGot := shortRow(row, pos, &got)
		okWant := shortRowGo(row, pos, &want)
		if okGot != okWant {
			t.Fatalf("row %q at %v: read %b, shortMantissa %b", row, pos, okGot, okWant)
		}
		for k := range min(len(pos), shortRowMax) {
			if okGot>>k&1 == 1 {
				read++
				if got[k] != want[k] {
					t.Fatalf("%q: %#x, shortMantissa %#x", row[pos[k]], got[k], want[k])
				}
			}
		}
	})
	if read < 50000 {
		t.Fatalf("only %d cells read", read)
	}
}

// scatteredRows cuts cells into rows of up to 70 cells and calls check with
// each and positions to read it at: scattered, some past the row's end,
// some negative, past the first 64 never read.
func scatteredRows(r *rand.Rand, cells []string, check func(row []string, pos []int32)) {
	for len(cells) > 0 {
		row := cells[:min(len(cells), 1+r.IntN(70))]
		cells = cells[len(row):]
		pos := make([]int32, r.IntN(72))
		for k := range pos {
			pos[k] = int32(r.IntN(len(row)+4)) - 2
		}
		check(row, pos)
	}
}

// A row of more numeric columns than shortRow and fullRow read at once (and
// a categorical one among them, and columns bound out of the stream's
// order), its cells of every shape, profiles as adding value by value does.
func TestProfilerReadsRowsWiderThanShortRow(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	const width = shortRowMax + 6
	schema := &Schema{}
	for i := range width {
		kind := KindNumeric
		if i == 10 {
			kind = KindCategorical
		}
		schema.Columns = append(schema.Columns, SchemaColumn{Name: "c" + strconv.Itoa(i), Kind: kind, Role: RoleFeature})
	}
	// The stream has the columns reversed, and one more.
	var stream []string
	for i := width - 1; i >= 0; i-- {
		stream = append(stream, "c"+strconv.Itoa(i))
	}
	stream = append(stream, "extra")
	opts := Options{ExactLimit: 100000, SketchCap: 64}
	pr, want := NewProfiler(schema, opts), NewProfiler(schema, opts).Profile()
	pr.bind(stream)
	for range 3000 {
		row := make([]string, len(stream))
		for j := range row {
			switch r.IntN(10) {
			case 0:
				row[j] = "" // missing
			case 1:
				row[j] = "n/a"
			case 2:
				row[j] = strconv.FormatFloat(r.NormFloat64(), 'g', -1, 64)
			case 3, 4:
				row[j] = strconv.FormatFloat(r.NormFloat64()*[]float64{1, 1e-4, 1e3}[j%3], 'f', -1, 64) // full precision
			default:
				row[j] = strconv.FormatFloat(r.NormFloat64()*100, 'f', 6, 64)
			}
		}
		pr.Add(row)
		want.Rows++
		for i, c := range want.Columns {
			s := row[width-1-i]
			c.Count++
			v, ok := parseNumber(s)
			switch {
			case s == "":
				c.Missing++
			case c.Values == nil:
				c.Categories[s]++
			case ok:
				c.addNumber(v)
			default:
				c.Mismatch++
			}
		}
	}
	got, _ := json.Marshal(pr.Profile())
	if w, _ := json.Marshal(want); string(got) != string(w) {
		t.Fatalf("the profile differs from adding value by value:\n%s\n%s", got, w)
	}
}

// FuzzShortRow: any cells, read at every position, as shortMantissa reads them.
func FuzzShortRow(f *testing.F) {
	f.Add("-0.806033,12.345678,+1.5000000,1e5,,-.1234567,1234567.1")
	f.Fuzz(func(t *testing.T, line string) {
		row := strings.Split(line, ",")
		pos := make([]int32, len(row)+1)
		for k := range pos {
			pos[k] = int32(k) // the last one past the row
		}
		var got, want [shortRowMax]uint64
		okGot, okWant := shortRow(row, pos, &got), shortRowGo(row, pos, &want)
		if okGot != okWant {
			t.Fatalf("%q: read %b, shortMantissa %b", row, okGot, okWant)
		}
		for k := range min(len(pos), shortRowMax) {
			if okGot>>k&1 == 1 && got[k] != want[k] {
				t.Fatalf("%q: %#x, shortMantissa %#x", row[k], got[k], want[k])
			}
		}
	})
}

// fullRow reads exactly what fullMantissa reads, to the same integers and
// decimals; every cell fullDecimal reads it reads too, and its integer,
// scaled by Eisel–Lemire, is strconv's value to the bit.
func TestFullRowReadsWhatFullMantissaReads(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const junk = "0123456789.-+e 0000"
	var cells []string
	for i := range 300000 {
		switch i % 4 {
		case 0, 1, 2:
			x := r.NormFloat64() * []float64{1, 10, 100, 1e-3, 1e-5, 1e5, 3e6}[i%7]
			c := strconv.FormatFloat(x, 'f', -1, 64) // pandas' repr, without exponents
			if r.IntN(5) == 0 {
				c = strconv.FormatFloat(x, 'f', 8+r.IntN(17), 64)
			}
			if r.IntN(6) == 0 {
				c = "+" + c
			}
			cells = append(cells, c)
		default:
			b := make([]byte, 14+r.IntN(21))
			for j := range b {
				b[j] = junk[r.IntN(len(junk))]
			}
			cells = append(cells, string(b))
		}
	}
	cells = append(cells, "-0.0000000000000000", "9999999.999999999999", "0.00000000000000000000001", "1234567.123456789012",
		"0.1234567890123456789", "0.12345678901234567890", "-1.3140602545896758", "00000001.5555555555", "1.234567890123456789012345")
	var read int
	var got, want [2 * shortRowMax]uint64
	scatteredRows(r, cells, func(row []string, pos []int32) {
		okGot, okWant := fullRow(row, pos, &got), fullRowGo(row, pos, &want)
		if okGot != okWant {
			t.Fatalf("row %q at %v: read %b, fullMantissa %b", row, pos, okGot, okWant)
		}
		for k, p := range pos[:min(len(pos), shortRowMax)] {
			if okGot>>k&1 == 0 {
				if uint(p) < uint(len(row)) {
					if _, ok := fullDecimal(row[p]); ok {
						t.Fatalf("%q: fullDecimal reads it, fullRow does not", row[p])
					}
				}
				continue
			}
			read++
			if got[k] != want[k] || got[shortRowMax+k] != want[shortRowMax+k] {
				t.Fatalf("%q: %d, %#x; fullMantissa %d, %#x", row[p], got[k], got[shortRowMax+k], want[k], want[shortRowMax+k])
			}
			info := got[shortRowMax+k]
			if v, ok := eiselLemire64(got[k], -int(info&127), info>>7 != 0); ok {
				if w := mustParse(row[p]); math.Float64bits(v) != math.Float64bits(w) {
					t.Fatalf("%q: %v, strconv %v", row[p], v, w)
				}
			}
		}
	})
	if read < 100000 {
		t.Fatalf("only %d cells read", read)
	}
}

// FuzzFullRow: any cells, read at every position, as fullMantissa reads them.
func FuzzFullRow(f *testing.F) {
	f.Add("-1.3140602545896758,0.00014335131006482094,+12.000000000000001,1e5,,0.1234567890123456789")
	f.Fuzz(func(t *testing.T, line string) {
		row := strings.Split(line, ",")
		pos := make([]int32, len(row)+1)
		for k := range pos {
			pos[k] = int32(k)
		}
		var got, want [2 * shortRowMax]uint64
		okGot, okWant := fullRow(row, pos, &got), fullRowGo(row, pos, &want)
		if okGot != okWant {
			t.Fatalf("%q: read %b, fullMantissa %b", row, okGot, okWant)
		}
		for k := range min(len(pos), shortRowMax) {
			if okGot>>k&1 == 1 && (got[k] != want[k] || got[shortRowMax+k] != want[shortRowMax+k]) {
				t.Fatalf("%q: %d %#x, fullMantissa %d %#x", row[k], got[k], got[shortRowMax+k], want[k], want[shortRowMax+k])
			}
		}
	})
}
