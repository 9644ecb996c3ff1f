package format

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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
