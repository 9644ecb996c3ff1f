package format

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A mapped file yields exactly what encoding/csv reads from it: quoted
// fields, embedded newlines, CRLFs, a last line without newline.
func TestOpenCSVFileMatchesEncodingCSV(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("a,b,c\n")
	cells := []string{"1", "", "x y", "\"q,\"", "\"multi\nline\"", "\"say \"\"hi\"\"\"", "-2.5e3"}
	for i := range 20000 {
		eol := "\n"
		if i%7 == 0 {
			eol = "\r\n"
		}
		fmt.Fprintf(&sb, "%s,%s,%s%s", cells[i%7], cells[(i/7)%7], cells[(i/49)%7], eol)
	}
	sb.WriteString("last,line,no-newline")
	path := filepath.Join(t.TempDir(), "w.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := csv.NewReader(strings.NewReader(sb.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows, closer, err := OpenCSVFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	got := readAll(t, rows)
	if len(got) != len(want)-1 {
		t.Fatalf("%d rows, want %d", len(got), len(want)-1)
	}
	for i := range got {
		if strings.Join(got[i], "\x00") != strings.Join(want[i+1], "\x00") {
			t.Fatalf("row %d = %q, want %q", i, got[i], want[i+1])
		}
	}
	// The estimate counts lines; a seventh of these records span two.
	if n := rows.EstimatedRows(); n < 20000 || n > 30000 {
		t.Errorf("estimated %d rows, want 20000 to 30000", n)
	}
}

// Pages already parsed are handed back to the kernel as the reader moves
// on; a cell kept from them still reads the same.
func TestOpenCSVFileKeepsEarlyCellsReadable(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("id,x\n")
	for i := 0; sb.Len() < 40<<20; i++ {
		fmt.Fprintf(&sb, "row%09d,%d.123456\n", i, i)
	}
	path := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, closer, err := OpenCSVFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	var first []string
	n := 0
	for rows.Next() {
		if first == nil {
			first = append([]string(nil), rows.Row()...)
		}
		n++
	}
	if rows.Err() != nil || n < 1_000_000 {
		t.Fatalf("%d rows, err %v", n, rows.Err())
	}
	if first[0] != "row000000000" || first[1] != "0.123456" {
		t.Errorf("first row reads %q after its pages were released", first)
	}
}

func TestOpenCSVFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := OpenCSVFile(filepath.Join(dir, "missing.csv"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err %v", err)
	}
	empty := filepath.Join(dir, "empty.csv")
	os.WriteFile(empty, nil, 0o644)
	if _, _, err := OpenCSVFile(empty, Options{}); !errors.Is(err, ErrNoHeader) {
		t.Errorf("empty file: err %v, want ErrNoHeader", err)
	}
}

// Split cuts a mapped file's unread records into line-aligned parts that
// together hold exactly the records the file yields read whole, in order,
// with the same invalid-record count; parts stop at a quote (the caller then
// reads the file whole); inputs that are streamed or small do not split.
func TestCSVSplitParts(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("a,b,c\n")
	for i := range 30000 {
		switch {
		case i%501 == 7:
			sb.WriteString("short,line\n") // invalid
		case i%333 == 1:
			sb.WriteString("\r\n") // blank
		}
		fmt.Fprintf(&sb, "%d,%d.5,x%d\r\n", i, -i, i%7)
	}
	sb.WriteString("last,line,no-newline")
	path := filepath.Join(t.TempDir(), "w.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	whole, err := NewCSVString(sb.String(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := readAll(t, whole)
	defer func(b int) { partBlock = b }(partBlock)
	partBlock = 4 << 10 // parts read many blocks, lines straddle them
	for _, partBytes := range []int{1 << 10, 40 << 10, 100 << 10} {
		rows, closer, err := OpenCSVFile(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for range 100 { // records already read are not in the parts
			rows.Next()
		}
		parts := rows.Split(partBytes)
		if len(parts) < 2 {
			t.Fatalf("partBytes %d: %d parts", partBytes, len(parts))
		}
		// The parts in the last 2·partBytes are a quarter as large (the
		// cores finish together); the ones before are partBytes (plus the
		// rest of a line).
		var after int64
		for i := len(parts) - 1; i >= 0; i-- {
			size := parts[i].(*CSV).size
			small := after+size <= int64(2*partBytes)
			limit := int64(partBytes)
			if small {
				limit = int64(partBytes/4) + int64(partBytes/16) // a sliver joins the last part
			}
			if size > limit+100 || (!small && size < limit) {
				t.Errorf("partBytes %d: part %d of %d has %d bytes", partBytes, i, len(parts), size)
			}
			after += size
		}
		got := [][]string{}
		var invalid int64
		for _, p := range parts {
			for p.Next() { // a part's cells live until its next record
				row := make([]string, len(p.Row()))
				for i, cell := range p.Row() {
					row[i] = strings.Clone(cell)
				}
				got = append(got, row)
			}
			if p.Err() != nil {
				t.Fatal(p.Err())
			}
			invalid += p.Invalid()
			if p.(*CSV).Split(16) != nil {
				t.Fatal("a part split again")
			}
		}
		invalid += rows.Invalid()
		if !slices.EqualFunc(got, want[100:], slices.Equal) || invalid != whole.Invalid() {
			t.Errorf("partBytes %d: %d records, %d invalid; read whole: %d, %d", partBytes, len(got), invalid, len(want)-100, whole.Invalid())
		}
		closer.Close()
	}

	quoted := strings.Replace(sb.String(), "29000,-29000.5,x", "29000,\"-29000.5\",x", 1)
	c, err := NewCSVString(quoted, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stopped := 0
	for _, p := range c.Split(40 << 10) {
		for p.Next() {
		}
		if errors.Is(p.Err(), errQuotedPart) {
			stopped++
		} else if p.Err() != nil {
			t.Fatal(p.Err())
		}
	}
	if stopped != 1 {
		t.Errorf("%d parts stopped at the one quote", stopped)
	}

	small, _ := NewCSVString(sb.String()[:50<<10], Options{})
	streamed, _ := NewCSV(strings.NewReader(sb.String()), Options{})
	if small.Split(40<<10) != nil || streamed.Split(1<<10) != nil {
		t.Error("a small or streamed input split")
	}
}

// Transient hands over a mapped file's unread records, read into a reused
// buffer: the same records as the map (quoted fields and line ends in them
// included), and the map is not read further.
func TestCSVTransient(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("a,b,c\n")
	cells := []string{"1", "", "x y", "\"q,\"", "\"multi\nline\"", "-2.5e3", "0.12345678901234568"}
	for i := range 20000 {
		fmt.Fprintf(&sb, "%s,%s,%s\n", cells[i%7], cells[(i/7)%7], cells[(i/49)%7])
		if i%999 == 3 {
			sb.WriteString("bad\n")
		}
	}
	path := filepath.Join(t.TempDir(), "w.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	whole, _ := NewCSVString(sb.String(), Options{})
	want := readAll(t, whole)
	defer func(b int) { partBlock = b }(partBlock)
	partBlock = 4 << 10
	rows, closer, err := OpenCSVFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	for range 10 {
		rows.Next()
	}
	rest := rows.Transient()
	var got [][]string
	for rest.Next() {
		row := make([]string, 3)
		for i, c := range rest.Row() {
			row[i] = strings.Clone(c)
		}
		got = append(got, row)
	}
	if rest.Err() != nil || rows.Next() {
		t.Fatalf("err %v; the map still yields records", rest.Err())
	}
	if !slices.EqualFunc(got, want[10:], slices.Equal) || rows.Invalid()+rest.Invalid() != whole.Invalid() {
		t.Errorf("%d records, %d invalid; want %d, %d", len(got), rows.Invalid()+rest.Invalid(), len(want)-10, whole.Invalid())
	}
	s, _ := NewCSVString(sb.String(), Options{})
	if s.Transient() != nil {
		t.Error("an in-memory CSV handed over a transient reader")
	}
}
