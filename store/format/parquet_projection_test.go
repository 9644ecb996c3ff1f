package format

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// wideRecord has the columns a model reads (event_id, time, f0..f2, label,
// prediction) among columns it does not: strings, a list, a nested group,
// floats and booleans.
type wideRecord struct {
	EventID    string    `parquet:"event_id"`
	Time       time.Time `parquet:"time,timestamp(millisecond)"`
	F0         float64   `parquet:"f0"`
	Notes      string    `parquet:"notes,dict"`
	F1         *float64  `parquet:"f1,optional"`
	Tags       []int64   `parquet:"tags,list"`
	Label      int64     `parquet:"label"`
	Extra      wideExtra `parquet:"extra"`
	F2         string    `parquet:"f2,dict"`
	Prediction int64     `parquet:"prediction"`
	Blob       []byte    `parquet:"blob"`
	Flag       bool      `parquet:"flag"`
}

type wideExtra struct {
	A float32 `parquet:"a"`
	B *string `parquet:"b,optional"`
}

func wideParquet(t testing.TB, n, perGroup int) []byte {
	t.Helper()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	recs := make([]wideRecord, n)
	for i := range recs {
		f1 := float64(i) / 7
		b := fmt.Sprintf("b%d", i%13)
		recs[i] = wideRecord{EventID: fmt.Sprintf("e%d", i), Time: at.Add(time.Duration(i) * time.Second), F0: float64(i%97) * 0.3,
			Notes: []string{"x", "yy", "zzz"}[i%3], F1: &f1, Tags: make([]int64, i%4), Label: int64(i % 2),
			Extra: wideExtra{A: float32(i), B: &b}, F2: []string{"red", "green"}[i%2], Prediction: int64(i % 3 % 2),
			Blob: bytes.Repeat([]byte{byte(i)}, i%5), Flag: i%2 == 0}
		if i%9 == 0 {
			recs[i].F1, recs[i].Extra.B = nil, nil
		}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[wideRecord](&buf, parquet.MaxRowsPerRowGroup(int64(perGroup)), parquet.PageBufferSize(512))
	if _, err := w.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// garbleColumns overwrites every column chunk of the columns bad selects
// (their page headers, dictionaries and data) with bytes that are no
// Parquet page, leaving the footer intact.
func garbleColumns(t testing.TB, data []byte, bad func(string) bool) []byte {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := slices.Clone(data)
	paths := f.Schema().Columns()
	garbled := 0
	for _, rg := range f.Metadata().RowGroups {
		for j, cc := range rg.Columns {
			if !bad(strings.Join(paths[j], ".")) {
				continue
			}
			start := cc.MetaData.DataPageOffset
			if d := cc.MetaData.DictionaryPageOffset; d != 0 && d < start {
				start = d
			}
			for k := start; k < start+cc.MetaData.TotalCompressedSize; k++ {
				out[k] = byte(0xF7 ^ k) // thrift type 7 (double) fields with deltas: not a page header
			}
			garbled++
		}
	}
	if garbled == 0 {
		t.Fatal("no column chunk garbled")
	}
	return out
}

// A model that lists its columns reads only those from Parquet: the pages
// of every other column are never read or decoded (garbled, they would fail
// the file), and the columns it reads hold exactly what a full read gives.
func TestParquetReadsOnlyKeptColumns(t *testing.T) {
	kept := []string{"event_id", "time", "f0", "f1", "label", "f2", "prediction"}
	keep := func(c string) bool { return slices.Contains(kept, c) }
	intact := wideParquet(t, 3000, 400)
	garbled := garbleColumns(t, intact, func(c string) bool { return !keep(c) })

	full, err := OpenParquet(bytes.NewReader(intact))
	if err != nil {
		t.Fatal(err)
	}
	wantCols := full.Columns()
	if len(wantCols) != 13 {
		t.Fatalf("the wide file has columns %v", wantCols)
	}
	var want [][]string
	for full.Next() {
		var row []string
		for i, c := range wantCols {
			if keep(c) {
				row = append(row, full.Row()[i])
			}
		}
		want = append(want, row)
	}
	if full.Err() != nil || len(want) != 3000 {
		t.Fatalf("full read: %d rows, %v", len(want), full.Err())
	}

	if rows, err := OpenParquet(bytes.NewReader(garbled)); err == nil {
		for rows.Next() {
		}
		if rows.Err() == nil {
			t.Fatal("the garbled file reads whole without an error: the test proves nothing")
		}
	}

	projected := func() *parquetRows {
		rows, err := OpenParquetColumns(bytes.NewReader(garbled), DefaultParquetLimits, keep)
		if err != nil {
			t.Fatalf("projected open of the garbled file: %v", err)
		}
		return rows.(*parquetRows)
	}
	p := projected()
	if !slices.Equal(p.Columns(), kept) {
		t.Errorf("columns %v, want %v (file order, kept only)", p.Columns(), kept)
	}
	if got := readAll(t, p); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("projected rows differ from the full read's (%d rows, want %d)", len(got), len(want))
	}

	parts := projected().Split(1)
	if len(parts) < 3 {
		t.Fatalf("%d parts", len(parts))
	}
	got := make([][][]string, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Add(1)
		go func() { // concurrently, as the profiler reads them
			defer wg.Done()
			for part.Next() {
				got[i] = append(got[i], slices.Clone(part.Row()))
			}
		}()
	}
	wg.Wait()
	for _, part := range parts {
		if part.Err() != nil {
			t.Fatal(part.Err())
		}
	}
	if all := slices.Concat(got...); !slices.EqualFunc(all, want, slices.Equal) {
		t.Errorf("projected row groups read in parallel: %d rows, want %d in order", len(all), len(want))
	}
}

// rowReaderCells reads a Parquet file the way parquet-go's own row reader
// assembles rows (File.RowGroups, Rows.ReadRows), keeping each leaf
// column's first value of a row rendered as OpenParquet renders it: the
// independent reading that the column cursors must equal.
func rowReaderCells(data []byte) (rows [][]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, err
	}
	paths := f.Schema().Columns()
	render := make([]func(parquet.Value) string, len(paths))
	for i, path := range paths {
		leaf, _ := f.Schema().Lookup(path...)
		render[i] = renderer(leaf.Node)
	}
	buf := make([]parquet.Row, 64)
	for _, g := range f.RowGroups() {
		rr := g.Rows()
		for {
			n, err := rr.ReadRows(buf)
			for _, r := range buf[:n] {
				row := make([]string, len(paths))
				seen := make([]bool, len(paths))
				for _, v := range r {
					c := v.Column()
					if c < 0 || c >= len(row) || seen[c] {
						continue
					}
					seen[c] = true
					if !v.IsNull() {
						row[c] = render[c](v)
					}
				}
				rows = append(rows, row)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rr.Close()
				return nil, err
			}
		}
		rr.Close()
	}
	return rows, nil
}

// Reading a column at a time gives the rows parquet-go's row reader gives:
// lists (first element, or empty), optional values and nested groups,
// dictionary pages, several pages per chunk and several row groups.
func TestParquetColumnsEqualRowReader(t *testing.T) {
	data := wideParquet(t, 2500, 700)
	want, err := rowReaderCells(data)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := OpenParquet(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, rows.(*parquetRows))
	if len(got) != 2500 || !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("column cursors: %d rows, row reader %d; first rows %v / %v", len(got), len(want), got[:2], want[:2])
	}
}

// BenchmarkParquet reads a 12-column file whole and with the 7 columns a
// model would keep.
func BenchmarkParquet(b *testing.B) {
	data := wideParquet(b, 50000, 10000)
	kept := []string{"event_id", "time", "f0", "f1", "label", "f2", "prediction"}
	for name, keep := range map[string]func(string) bool{"all": nil, "projected": func(c string) bool { return slices.Contains(kept, c) }} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, err := OpenParquetColumns(bytes.NewReader(data), DefaultParquetLimits, keep)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				if rows.Err() != nil {
					b.Fatal(rows.Err())
				}
			}
		})
	}
}
