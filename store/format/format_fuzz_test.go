package format

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/vigilml/vigil/analysis"
)

// The fuzz targets below state what every reader promises for any input,
// however malformed: it does not panic, it ends, and what it returns is
// bounded by what it read — at most one row per input line (or per CSV line
// of a batched SageMaker payload), every row exactly as wide as the columns,
// and never more columns than the input has bytes to name them. Seeds live in
// testdata/fuzz/<target>; run one with
//
//	go test -run='^$' -fuzz=FuzzCSV -fuzztime=60s ./store/format

// drain reads rows to the end and checks the shape promises.
func drain(t *testing.T, rows analysis.Rows, maxRows, maxCols int) {
	t.Helper()
	cols := rows.Columns()
	if len(cols) > maxCols {
		t.Fatalf("%d columns from an input that can name at most %d", len(cols), maxCols)
	}
	n := 0
	for rows.Next() {
		n++
		if n > maxRows {
			t.Fatalf("more than %d rows from an input that has at most %d records", n-1, maxRows)
		}
		if got := len(rows.Row()); got != len(cols) {
			t.Fatalf("row %d has %d cells, columns are %d", n, got, len(cols))
		}
	}
	if rows.Invalid() < 0 || rows.Invalid() > int64(maxRows) {
		t.Fatalf("invalid = %d, input has at most %d records", rows.Invalid(), maxRows)
	}
}

func lines(data []byte) int { return bytes.Count(data, []byte{'\n'}) + 1 }

// FuzzCSV: any bytes, under any usable delimiter, with or without a header.
func FuzzCSV(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n3,4\n"), byte(','), false)
	f.Add([]byte("1;\"x;y\"\n"), byte(';'), true)
	f.Fuzz(func(t *testing.T, data []byte, comma byte, headerless bool) {
		// The delimiter comes from the config, which allows one byte; these are
		// the ones people use (a quote or newline can never be one).
		comma = ",;\t|"[int(comma)%4]
		opts := Options{Comma: comma}
		if headerless {
			opts.Columns = []string{"x", "y", "z"}
		}
		rows, err := NewCSV(bytes.NewReader(data), opts)
		if err != nil {
			return // empty input without a header
		}
		drain(t, rows, lines(data), max(len(data), 3)+1)
	})
}

// FuzzJSONL: any bytes, any discovery depth.
func FuzzJSONL(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1","features":{"age":42,"plan":"pro"},"prediction":1,"score":0.83}`+"\n"), uint8(0))
	f.Add([]byte("{\"a\":[1,{\"b\":\"\\u00e9\"}],\"m\":{\"n\":{\"o\":null}}}\nnot json\n"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, discover uint8) {
		rows, err := NewJSONL(bytes.NewReader(data), Options{DiscoverRecords: int(discover)})
		if err != nil {
			t.Fatalf("NewJSONL over an in-memory reader failed: %v", err)
		}
		// Every column is a key of the input, and every key is followed by a ':'.
		drain(t, rows, lines(data), bytes.Count(data, []byte{':'}))
	})
}

// FuzzSageMaker: any bytes as a capture or ground-truth file, with and
// without configured columns.
func FuzzSageMaker(f *testing.F) {
	f.Add([]byte(`{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"34,pro","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv","mode":"OUTPUT","data":"0.9","encoding":"CSV"}},"eventMetadata":{"eventId":"a1","inferenceTime":"2026-03-01T10:00:05Z"},"eventVersion":"0"}`), false)
	f.Add([]byte(`{"groundTruthData":{"data":"1","encoding":"CSV"},"eventMetadata":{"eventId":"a1"},"eventVersion":"0"}`), true)
	f.Fuzz(func(t *testing.T, data []byte, withColumns bool) {
		var o SageMakerOptions
		if withColumns {
			o.Columns = []string{"age", "plan", "spend"}
		}
		rows, err := OpenSageMaker(bytes.NewReader(data), o)
		if err != nil {
			t.Fatalf("OpenSageMaker over an in-memory reader failed: %v", err)
		}
		// A batched payload gives one row per payload line or instance, and
		// each needs at least two bytes of the input ("1\n", "[1]" ...); base64
		// payloads decode to fewer bytes than they take.
		drain(t, rows, len(data)+1, len(data)+len(o.Columns)+3)
	})
}

// A line of deeply nested objects is one invalid record, not a quadratic
// pile of column-name prefixes (found by FuzzJSONL's seeds: 10,000 levels in
// 50 KB used to allocate ~100 MB; 1 MiB of them, gigabytes).
func TestJSONLDeepNestingIsInvalid(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	ok := strings.Repeat(`{"a":`, 3) + "1" + strings.Repeat("}", 3)
	var rows analysis.Rows
	allocs := testing.AllocsPerRun(1, func() {
		var err error
		rows, err = NewJSONL(strings.NewReader(deep+"\n"+ok+"\n"), Options{})
		if err != nil {
			t.Fatal(err)
		}
	})
	got := readAll(t, rows)
	if rows.Invalid() != 1 || len(got) != 1 || strings.Join(rows.Columns(), ",") != "a.a.a" {
		t.Errorf("invalid=%d rows=%v columns=%v, want the deep line invalid and a.a.a from the other", rows.Invalid(), got, rows.Columns())
	}
	if allocs > 1000 {
		t.Errorf("%v allocations for two lines", allocs)
	}
}

// A SageMaker batch costs its fields, not rows × columns: a wide first
// record fixes thousands of columns, and a later batch of thousands of
// one-byte lines must not build thousands of full rows at once (it used to:
// 5,000 × 5,000 cells, 400 MB, from 30 KB of input).
func TestSageMakerWideColumnsTimesLongBatchStaysSmall(t *testing.T) {
	const n = 5000
	line := func(id, data string) string {
		return `{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"` + data + `","encoding":"CSV"}},"eventMetadata":{"eventId":"` + id + `"},"eventVersion":"0"}` + "\n"
	}
	in := line("wide", strings.Repeat("1,", n-1)+"1") + line("long", strings.Repeat(`1\n`, n))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rows, err := OpenSageMaker(strings.NewReader(in), SageMakerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		got++
	}
	runtime.ReadMemStats(&after)
	if got != 1+n || len(rows.Columns()) != 3+n {
		t.Errorf("%d rows of %d columns, want %d of %d", got, len(rows.Columns()), 1+n, 3+n)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("reading %d KB allocated %d MB", len(in)>>10, alloc>>20)
	}
}
