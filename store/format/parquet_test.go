package format

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/vigilml/vigil/analysis"
)

type parquetRecord struct {
	EventID string    `parquet:"event_id"`
	Time    time.Time `parquet:"time,timestamp(millisecond)"`
	Age     int64     `parquet:"age"`
	Spend   *float64  `parquet:"spend,optional"`
	Plan    string    `parquet:"plan,dict"`
	Active  bool      `parquet:"active"`
	Score   float32   `parquet:"score"`
}

func writeParquet(t *testing.T, recs []parquetRecord) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRecord](&buf, parquet.MaxRowsPerRowGroup(2))
	if _, err := w.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParquet(t *testing.T) {
	spend := 120.5
	at := time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)
	data := writeParquet(t, []parquetRecord{
		{"e1", at, 34, &spend, "pro", true, 0.91},
		{"e2", at.Add(time.Minute), 51, nil, "basic", false, 0.125},
		{"e3", at.Add(2 * time.Minute), 29, &spend, "pro", true, 0.5},
	})
	path := filepath.Join(t.TempDir(), "p.parquet")
	os.WriteFile(path, data, 0o644)
	want := []string{
		"e1|2026-03-01T10:00:05Z|34|120.5|pro|true|0.91",
		"e2|2026-03-01T10:01:05Z|51||basic|false|0.125",
		"e3|2026-03-01T10:02:05Z|29|120.5|pro|true|0.5",
	}
	for name, open := range map[string]func() (*os.File, bool){
		"a file is read in place":            func() (*os.File, bool) { f, _ := os.Open(path); return f, true },
		"a stream is spooled to a temp file": func() (*os.File, bool) { return nil, false },
	} {
		t.Run(name, func(t *testing.T) {
			f, isFile := open()
			var rows analysis.Rows
			var err error
			if isFile {
				defer f.Close()
				rows, err = Open(f, "parquet", Options{})
			} else {
				rows, err = Open(bytes.NewBufferString(string(data)), "parquet", Options{})
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rows.Columns(), "|"); got != "event_id|time|age|spend|plan|active|score" {
				t.Errorf("columns = %s", got)
			}
			var got []string
			for rows.Next() {
				got = append(got, strings.Join(rows.Row(), "|"))
			}
			if rows.Err() != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("rows (err %v):\n%s\nwant:\n%s", rows.Err(), strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if c, ok := rows.(interface{ Close() error }); ok {
				c.Close()
			}
		})
	}
	if _, err := Open(strings.NewReader("not parquet"), "parquet", Options{}); err == nil {
		t.Error("garbage must be an error")
	}
}

// Split cuts a Parquet file's row groups into parts of consecutive groups,
// read concurrently from the same file: together they hold exactly the rows
// of the whole file, in order; a file that has started, or has one group,
// does not split.
func TestParquetSplitRowGroups(t *testing.T) {
	var recs []parquetRecord
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 5000 {
		spend := float64(i) * 1.25
		r := parquetRecord{fmt.Sprintf("e%d", i), at.Add(time.Duration(i) * time.Second), int64(i % 90), &spend,
			[]string{"basic", "pro"}[i%2], i%3 == 0, float32(i%100) / 100}
		if i%11 == 0 {
			r.Spend = nil
		}
		recs = append(recs, r)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRecord](&buf, parquet.MaxRowsPerRowGroup(300))
	if _, err := w.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	open := func() *parquetRows {
		rows, err := OpenParquet(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		return rows.(*parquetRows)
	}
	whole := open()
	if whole.EstimatedRows() != 5000 {
		t.Errorf("EstimatedRows %d", whole.EstimatedRows())
	}
	want := readAll(t, whole)
	parts := open().Split(20 << 10)
	if len(parts) < 3 {
		t.Fatalf("%d parts", len(parts))
	}
	got := make([][][]string, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() { // concurrently, as the profiler reads them
			defer wg.Done()
			for p.Next() {
				got[i] = append(got[i], slices.Clone(p.Row()))
			}
		}()
	}
	wg.Wait()
	var all [][]string
	for i, p := range parts {
		if p.Err() != nil {
			t.Fatal(p.Err())
		}
		all = append(all, got[i]...)
	}
	if !slices.EqualFunc(all, want, slices.Equal) {
		t.Errorf("parts hold %d rows, the file %d (or in another order)", len(all), len(want))
	}
	started := open()
	started.Next()
	if started.Split(1) != nil || parts[0].(*parquetRows).Split(1) != nil {
		t.Error("a started file or a part split")
	}
}
