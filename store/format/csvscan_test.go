package format

import (
	"encoding/csv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// sepMasksByBytes is the definition sepBlocks implements, a byte at a time.
func sepMasksByBytes(s string, comma byte) (seps, lines []uint64, quoted bool) {
	seps, lines = make([]uint64, len(s)/64), make([]uint64, len(s)/64)
	for i := range len(s) / 64 * 64 {
		switch s[i] {
		case '\n':
			seps[i/64] |= 1 << (i % 64)
			lines[i/64] |= 1 << (i % 64)
		case comma:
			seps[i/64] |= 1 << (i % 64)
		case '"':
			quoted = true
		}
	}
	return seps, lines, quoted
}

func TestSepBlocksMarkDelimitersLineEndsAndQuotes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789.-e,;\t\n\r\"x\x00\xff\x80"
	for trial := range 400 {
		n := rng.IntN(700)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
			if trial%3 == 0 && b[i] == '"' {
				b[i] = 'q' // no quote anywhere in a third of them
			}
		}
		s := string(b)
		for _, comma := range []byte{',', ';', '\t', '|'} {
			wantSeps, wantLines, wantQuoted := sepMasksByBytes(s, comma)
			impls := map[string]func(string, byte, []uint64, []uint64) bool{"go": sepBlocksGo, "platform": sepBlocks}
			for name, f := range impls {
				seps, lines := make([]uint64, len(wantSeps)), make([]uint64, len(wantSeps))
				for i := range seps {
					seps[i], lines[i] = ^uint64(0), ^uint64(0) // every bit is written
				}
				quoted := f(s, comma, seps, lines)
				for i := range seps {
					if seps[i] != wantSeps[i] || lines[i] != wantLines[i] {
						t.Fatalf("%s, comma %q, %q: block %d: seps %064b lines %064b, want %064b %064b",
							name, comma, s[i*64:i*64+64], i, seps[i], lines[i], wantSeps[i], wantLines[i])
					}
				}
				if quoted != wantQuoted {
					t.Fatalf("%s, comma %q, %q: quoted %v, want %v", name, comma, s, quoted, wantQuoted)
				}
			}
		}
	}
}

// unquotedCSV is a file that exercises the indexed path at its edges:
// records of every width around the header's (too few and too many
// fields), blank and "\r"-only lines, CRLF ends, empty cells, a record
// longer than the indexed window, records across windows, a quoted record
// late in the file (when quote), and a last line without a newline.
func unquotedCSV(rng *rand.Rand, comma string, quote bool) string {
	var sb strings.Builder
	sb.WriteString(strings.Join([]string{"a", "b", "c", "d"}, comma) + "\n")
	cell := func() string {
		switch rng.IntN(6) {
		case 0:
			return ""
		case 1:
			return "x y"
		default:
			return "-" + string(rune('0'+rng.IntN(10))) + ".123456"
		}
	}
	for i := range 30000 {
		switch {
		case i%997 == 5:
			sb.WriteString("\n")
		case i%991 == 6:
			sb.WriteString("\r\n")
		case i == 20000 && quote:
			sb.WriteString(strings.Join([]string{`"q` + comma + `uoted"`, "1", "2", "3"}, comma) + "\n")
		case i == 12345:
			// one record longer than the window
			sb.WriteString(strings.Repeat("7", sepWindowBytes+100) + comma + "1" + comma + "2" + comma + "3\n")
		}
		fields := 4
		if i%101 == 3 {
			fields = 1 + rng.IntN(7)
		}
		cells := make([]string, fields)
		for j := range cells {
			cells[j] = cell()
		}
		eol := "\n"
		if i%13 == 0 {
			eol = "\r\n"
		}
		sb.WriteString(strings.Join(cells, comma) + eol)
	}
	sb.WriteString(strings.Join([]string{"9", "8", "7", "6"}, comma)) // no newline
	return sb.String()
}

// records reads every record and the invalid count.
func records(t *testing.T, rows *CSV) ([]string, int64) {
	t.Helper()
	var out []string
	for rows.Next() {
		out = append(out, strings.Join(rows.Row(), "\x00"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out, rows.Invalid()
}

func TestIndexedRecordsMatchEncodingCSVAndTheRecordAtATimePath(t *testing.T) {
	for _, comma := range []string{",", ";", "\t"} {
		in := unquotedCSV(rand.New(rand.NewPCG(3, uint64(comma[0]))), comma, true)
		// encoding/csv, keeping the records as wide as the header.
		r := csv.NewReader(strings.NewReader(in))
		r.Comma, r.FieldsPerRecord = rune(comma[0]), -1
		all, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		var wantInvalid int64
		for _, rec := range all[1:] {
			if len(rec) != 4 {
				wantInvalid++
				continue
			}
			want = append(want, strings.Join(rec, "\x00"))
		}
		check := func(name string, open func() *CSV) {
			t.Helper()
			got, invalid := records(t, open())
			if invalid != wantInvalid || len(got) != len(want) {
				t.Fatalf("comma %q, %s: %d records, %d invalid; want %d, %d", comma, name, len(got), invalid, len(want), wantInvalid)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("comma %q, %s: record %d = %q, want %q", comma, name, i, got[i], want[i])
				}
			}
		}
		opts := Options{Comma: comma[0]}
		path := filepath.Join(t.TempDir(), "u.csv")
		if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, indexed := range []bool{true, false} {
			fastRecords = indexed
			name := map[bool]string{true: "indexed", false: "record at a time"}[indexed]
			for rname, reader := range map[string]func() io.Reader{
				"whole":    func() io.Reader { return strings.NewReader(in) },
				"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(in)) },
				"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(in)) },
			} {
				check(name+", "+rname, func() *CSV {
					c, err := NewCSV(reader(), opts)
					if err != nil {
						t.Fatal(err)
					}
					return c
				})
			}
			check(name+", string", func() *CSV {
				c, err := NewCSVString(in, opts)
				if err != nil {
					t.Fatal(err)
				}
				return c
			})
			check(name+", mapped file", func() *CSV {
				c, closer, err := OpenCSVFile(path, opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { closer.Close() })
				return c
			})
		}
		fastRecords = true
	}
}

// The parts of a split file (read a block at a time into a reused buffer,
// records straddling the blocks) cut the same records as reading it whole.
func TestIndexedRecordsOfSplitParts(t *testing.T) {
	in := unquotedCSV(rand.New(rand.NewPCG(4, 4)), ",", false)
	path := filepath.Join(t.TempDir(), "u.csv")
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	whole, err := NewCSVString(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, wantInvalid := records(t, whole)
	defer func(b int) { partBlock = b }(partBlock)
	for _, block := range []int{4 << 10, 100 << 10} {
		partBlock = block
		rows, closer, err := OpenCSVFile(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		parts := rows.Split(64 << 10)
		if len(parts) < 4 {
			t.Fatalf("%d parts", len(parts))
		}
		var got []string
		var invalid int64
		for _, p := range parts {
			part, inv := records(t, p.(*CSV))
			got, invalid = append(got, part...), invalid+inv
		}
		closer.Close()
		if invalid != wantInvalid || !slices.Equal(got, want) {
			t.Fatalf("block %d: %d records, %d invalid; whole: %d, %d", block, len(got), invalid, len(want), wantInvalid)
		}
	}
}
