package store

import (
	"io"
	"path"
	"strings"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/store/format"
)

// formatOfKey guesses a format from an object name (after any .gz).
func formatOfKey(key string) string {
	k := strings.TrimSuffix(strings.ToLower(path.Base(key)), ".gz")
	switch {
	case strings.HasSuffix(k, ".csv"):
		return "csv"
	case strings.HasSuffix(k, ".parquet"):
		return "parquet"
	}
	return "jsonl"
}

// decode opens one object's (decompressed) stream in the spec's format.
func decode(r io.Reader, key string, spec readSpec) (analysis.Rows, error) {
	f := spec.format
	if f == "" {
		f = formatOfKey(key)
	}
	switch f {
	case "parquet":
		return format.OpenParquet(r)
	case "sagemaker":
		n := spec.names
		return format.OpenSageMaker(r, format.SageMakerOptions{
			Columns:    spec.columns,
			EventID:    n.EventID,
			Time:       n.Time,
			Prediction: n.Prediction,
			Target:     n.Target,
		})
	}
	return format.Open(r, f, format.Options{Columns: spec.columns})
}
