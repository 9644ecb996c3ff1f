package format

import (
	"fmt"
	"io"

	"github.com/vigilml/vigil/analysis"
)

// Options tunes a reader.
type Options struct {
	// Columns names the columns of a headerless CSV; when set, the first line
	// is data. Other formats ignore it.
	Columns []string
	// Comma is the CSV field delimiter (0 = ',').
	Comma byte
	// DiscoverRecords is how many leading JSONL records are buffered to
	// discover the columns (0 = 100); keys first seen later are ignored.
	DiscoverRecords int
	// MaxRecordBytes bounds one JSONL line (0 = DefaultMaxRecordBytes);
	// longer lines are skipped and counted as invalid.
	MaxRecordBytes int
}

// Formats lists the names Open accepts.
var Formats = []string{"csv", "jsonl"}

// opener makes the Rows of one format. Formats in other files of this
// package register themselves in openers from an init function.
type opener func(r io.Reader, opts Options) (analysis.Rows, error)

var openers = map[string]opener{
	"csv":   func(r io.Reader, o Options) (analysis.Rows, error) { return NewCSV(r, o) },
	"jsonl": func(r io.Reader, o Options) (analysis.Rows, error) { return NewJSONL(r, o) },
	"json":  func(r io.Reader, o Options) (analysis.Rows, error) { return NewJSONL(r, o) },
}

// Open returns the rows of r read as format f ("csv", "jsonl").
func Open(r io.Reader, f string, opts Options) (analysis.Rows, error) {
	switch f {
	// New formats: add a case here (or register in openers from their file).
	case "parquet":
		return OpenParquet(r)
	case "sagemaker":
		return OpenSageMaker(r, SageMakerOptions{Columns: opts.Columns})
	default:
		op, ok := openers[f]
		if !ok {
			return nil, fmt.Errorf("format: unknown format %q: use one of %v", f, Formats)
		}
		return op(r, opts)
	}
}
