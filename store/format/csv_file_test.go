package format

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
