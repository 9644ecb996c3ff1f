package format

import (
	"bytes"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// FuzzParquet feeds any bytes to OpenParquet: it must not panic, and a
// corrupt file is an error (from OpenParquet or Err), not a crash. Parquet
// legitimately turns a few bytes into many rows (run-length encoding), so
// only the first 1<<16 rows are read.
//
//	go test -run='^$' -fuzz=FuzzParquet -fuzztime=60s ./store/format
func FuzzParquet(f *testing.F) {
	spend := 120.5
	at := time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRecord](&buf, parquet.MaxRowsPerRowGroup(2))
	if _, err := w.Write([]parquetRecord{
		{"e1", at, 34, &spend, "pro", true, 0.91},
		{"e2", at.Add(time.Minute), 51, nil, "basic", false, 0.125},
		{"e3", at.Add(2 * time.Minute), 29, &spend, "pro", true, 0.5},
	}); err != nil || w.Close() != nil {
		f.Fatal("write the seed file", err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := OpenParquet(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer rows.(interface{ Close() error }).Close()
		for n := 0; n < 1<<16 && rows.Next(); n++ {
			if len(rows.Row()) != len(rows.Columns()) {
				t.Fatalf("row of %d cells, %d columns", len(rows.Row()), len(rows.Columns()))
			}
		}
	})
}
