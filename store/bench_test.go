package store

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// genBackend serves hour-partitioned JSONL objects generated on the fly, so
// the benchmark measures the reader (listing, decoding, time filter, join
// wrapper), not the disk.
type genBackend struct {
	objects, perObject int
}

func (g genBackend) uri(key string) string { return "gen://" + key }

func (g genBackend) list(_ context.Context, prefix string, fn func(object) error) error {
	if prefix != partitionPath(t0) {
		return nil
	}
	for i := 0; i < g.objects; i++ {
		if err := fn(object{Key: fmt.Sprintf("%s%04d.jsonl", prefix, i), Size: int64(g.perObject) * 120}); err != nil {
			return err
		}
	}
	return nil
}

func (g genBackend) open(_ context.Context, key string) (io.ReadCloser, error) {
	return io.NopCloser(&genReader{n: g.perObject}), nil
}

func (genBackend) dirs(context.Context, string) ([]string, error) { return nil, nil }
func (genBackend) put(context.Context, string, []byte) error      { return nil }
func (genBackend) remove(context.Context, string) error           { return nil }

// genReader produces n inference records, one per line.
type genReader struct {
	i, n int
	buf  []byte
}

func (r *genReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.i == r.n {
			return 0, io.EOF
		}
		at := t0.Add(time.Duration(r.i%3600) * time.Second)
		r.buf = fmt.Appendf(r.buf[:0], `{"event_id":"e%d","time":"%s","features":{"age":%d,"plan":"%s","spend":%d.5},"prediction":%d,"score":0.%d,"latency_ms":%d}`+"\n",
			r.i, at.Format(time.RFC3339), 20+r.i%50, []string{"basic", "pro", "team"}[r.i%3], r.i%1000, r.i%2, r.i%100, 5+r.i%40)
		r.i++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// streamWindow reads a generated window through the same path as OpenWindow
// and calls each(rowsSoFar) after every row.
func streamWindow(tb testing.TB, objects, perObject int, each func(int64)) (rows int64, sum float64) {
	be := genBackend{objects: objects, perObject: perObject}
	objs, err := listHours(context.Background(), be, t0, t0.Add(time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	info := &WindowInfo{}
	r := newObjectRows(context.Background(), be, objs, readSpec{format: "jsonl", names: defaultNames}, info)
	r.timeIdx, r.from, r.to = r.index["time"], t0, t0.Add(time.Hour)
	w := &windowRows{objectRows: r, info: info, target: r.addColumn("label"), key: joinKey(r, "event_id")}
	spend := r.index["spend"]
	for w.Next() {
		v, _ := strconv.ParseFloat(w.Row()[spend], 64)
		sum += v
		if each != nil {
			each(info.Rows)
		}
	}
	if err := w.Err(); err != nil {
		tb.Fatal(err)
	}
	return info.Rows, sum
}

// BenchmarkWindowJSONL streams 1M JSONL inference records (10 objects of
// 100k) through the window reader into a consumer that sums one column.
func BenchmarkWindowJSONL(b *testing.B) {
	b.ReportAllocs()
	var rows int64
	start := time.Now()
	for i := 0; i < b.N; i++ {
		n, _ := streamWindow(b, 10, 100_000, nil)
		rows += n
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
}

// TestWindowMemoryIsBounded checks that the live heap does not grow with the
// number of rows streamed: it is measured after 100k and after 1M rows.
func TestWindowMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1M records")
	}
	var ms runtime.MemStats
	heapAt := map[int64]uint64{}
	rows, _ := streamWindow(t, 10, 100_000, func(n int64) {
		if n == 100_000 || n == 1_000_000 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			heapAt[n] = ms.HeapAlloc
		}
	})
	if rows != 1_000_000 {
		t.Fatalf("%d rows, want 1,000,000", rows)
	}
	growth := int64(heapAt[1_000_000]) - int64(heapAt[100_000])
	t.Logf("live heap after 100k rows %d KiB, after 1M rows %d KiB", heapAt[100_000]>>10, heapAt[1_000_000]>>10)
	if growth > 2<<20 {
		t.Errorf("live heap grew by %d KiB between 100k and 1M rows: memory must not depend on rows", growth>>10)
	}
}

// BenchmarkJSONLReaderAlone is the same 1M records through the bare JSONL
// reader, to tell the window's own cost from the decoder's.
func BenchmarkJSONLReaderAlone(b *testing.B) {
	b.ReportAllocs()
	var rows int64
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 10; j++ {
			r, err := decode(&genReader{n: 100_000}, "x.jsonl", readSpec{format: "jsonl"})
			if err != nil {
				b.Fatal(err)
			}
			for r.Next() {
				rows++
			}
		}
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
}
