package format

import (
	"bytes"
	"fmt"
	"os"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// fuzzParquetLimits are smaller than the defaults so that the fuzzer spends
// its time on parsing, not on filling pages it is allowed to allocate.
var fuzzParquetLimits = ParquetLimits{MaxFooterBytes: 1 << 20, MaxPageBytes: 4 << 20, MaxMemory: 16 << 20}

// fuzzAllocBound is what one execution may allocate in all (a bound on its
// peak heap): the limits' MaxMemory, twice over for the copies the checks
// and parquet-go each make, plus room for rows and the reader's own state.
const fuzzAllocBound = 2*(16<<20) + 8<<20

// FuzzParquet feeds any bytes to OpenParquet: it must not panic, a corrupt
// file is an error (from OpenParquet or Err), not a crash, and no execution
// allocates more than fuzzAllocBound, whatever sizes the input declares.
// Parquet legitimately turns a few bytes into many rows (run-length
// encoding), so only the first 1<<16 rows are read.
//
//	go test -run='^$' -fuzz=FuzzParquet -fuzztime=60s ./store/format
//
// VIGIL_FUZZ_ALLOCLOG=file appends each new per-execution maximum of bytes
// allocated to file (one line per fuzz worker process and new maximum).
func FuzzParquet(f *testing.F) {
	spend := 120.5
	at := time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)
	recs := []parquetRecord{
		{"e1", at, 34, &spend, "pro", true, 0.91},
		{"e2", at.Add(time.Minute), 51, nil, "basic", false, 0.125},
		{"e3", at.Add(2 * time.Minute), 29, &spend, "pro", true, 0.5},
	}
	for _, opts := range [][]parquet.WriterOption{
		nil,
		{parquet.Compression(&parquet.Zstd)},
		{parquet.Compression(&parquet.Gzip)},
		{parquet.Compression(&parquet.Snappy)},
		{parquet.Compression(&parquet.Lz4Raw)},
		{parquet.Compression(&parquet.Brotli)},
		{parquet.DataPageVersion(1)},
	} {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[parquetRecord](&buf, append(opts, parquet.MaxRowsPerRowGroup(2))...)
		if _, err := w.Write(recs); err != nil || w.Close() != nil {
			f.Fatal("write the seed file", err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte("PAR1PAR1"))
	logPath := os.Getenv("VIGIL_FUZZ_ALLOCLOG")
	var most uint64
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	f.Fuzz(func(t *testing.T, data []byte) {
		before := allocated()
		got, complete := fuzzReadParquet(t, data)
		n := allocated() - before
		if n > fuzzAllocBound {
			t.Fatalf("one execution allocated %d bytes, bound %d", n, fuzzAllocBound)
		}
		if n > most && logPath != "" {
			most = n
			if lf, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				fmt.Fprintf(lf, "pid %d: %d bytes allocated by one execution (input %d bytes)\n", os.Getpid(), n, len(data))
				lf.Close()
			}
		}
		// A file read to its end without an error holds the rows parquet-go's
		// own row reader assembles (when that reader can read it).
		if complete {
			if want, err := rowReaderCells(data); err == nil && !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("column cursors read %d rows %.3q, the row reader %d rows %.3q", len(got), got, len(want), want)
			}
		}
	})
}

// fuzzReadParquet reads at most 1<<16 rows of data and keeps the first
// 1<<14 cells' rows; complete reports that it read every row, kept them all,
// without an error.
func fuzzReadParquet(t *testing.T, data []byte) (kept [][]string, complete bool) {
	rows, err := OpenParquetLimits(bytes.NewReader(data), fuzzParquetLimits)
	if err != nil {
		return nil, false
	}
	defer rows.(interface{ Close() error }).Close()
	cells, all := 0, true
	for n := 0; ; n++ {
		if n == 1<<16 {
			return nil, false
		}
		if !rows.Next() {
			break
		}
		if len(rows.Row()) != len(rows.Columns()) {
			t.Fatalf("row of %d cells, %d columns", len(rows.Row()), len(rows.Columns()))
		}
		if cells += max(len(rows.Row()), 1); cells > 1<<14 {
			all = false
		}
		if all {
			kept = append(kept, slices.Clone(rows.Row()))
		}
	}
	return kept, all && rows.Err() == nil
}
