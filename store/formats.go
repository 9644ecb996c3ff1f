package store

import (
	"bufio"
	"errors"
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

// decode opens one object's (decompressed) stream in the spec's format, or
// in the format its name and first bytes show (format.Detect) when the
// spec has none: a prefix of .jsonl.gz objects is JSONL, a capture file is
// SageMaker, whatever their names.
func decode(r io.Reader, key string, spec readSpec) (analysis.Rows, error) {
	f := spec.format
	if f == "" {
		br, ok := r.(*bufio.Reader)
		if !ok || br.Size() < format.SniffBytes {
			br = bufio.NewReaderSize(r, format.SniffBytes)
		}
		head, err := br.Peek(format.SniffBytes)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		f, r = format.Detect(key, head), br
	}
	switch f {
	case "parquet":
		return format.OpenParquetColumns(r, format.DefaultParquetLimits, spec.keep)
	case "sagemaker":
		n := spec.names
		rows, err := format.OpenSageMaker(r, format.SageMakerOptions{
			Columns:    spec.columns,
			EventID:    n.EventID,
			Time:       n.Time,
			Prediction: n.Prediction,
			Target:     n.Target,
		})
		if err != nil || !spec.versioned() {
			return rows, err
		}
		// The record does not name its variant; its folder does.
		return addConstColumn(rows, VersionColumn, spec.versionOf(spec.variantOf(key))), nil
	}
	return format.Open(r, f, format.Options{Columns: spec.columns})
}
