package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/store/format"
)

// BenchmarkProfileCSV profiles one window file as the harness does (CSV
// reader → numeric parsing → exact samples), without the drift tests:
// VIGIL_BENCH_CSV names the file (bench/run.sh generates them with KEEP=1).
func BenchmarkProfileCSV(b *testing.B) {
	path := os.Getenv("VIGIL_BENCH_CSV")
	if path == "" {
		b.Skip("set VIGIL_BENCH_CSV to a generated window (bench/gen)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rows, err := format.Open(bytes.NewReader(data), "csv", format.Options{})
		if err != nil {
			b.Fatal(err)
		}
		schema, err := analysis.InferSchema(rows.Columns(), nil, analysis.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := analysis.ProfileRows(rows, schema, analysis.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
