package analysis

// Rows is a stream of records with a fixed set of columns. Every data format
// (CSV, JSONL, Parquet, SageMaker capture; local files or S3) is read through
// it, so the analysis never holds a whole window in memory unless it must.
//
// Malformed records (wrong field count, broken JSON, undecodable payload) are
// not errors: Next skips them and counts them in Invalid, so one bad line never
// loses a window. Err reports only failures that end the stream (I/O, a
// missing header).
type Rows interface {
	// Columns names the columns of every row, in order. It is fixed before the
	// first call to Next and never changes.
	Columns() []string
	// Next advances to the next well-formed record. It returns false at the end
	// of the stream or on a fatal error (see Err).
	Next() bool
	// Row returns the current record's cells, one per column, as text; "" means
	// missing. The slice is reused by the next call to Next: copy what you keep.
	Row() []string
	// Invalid is the number of malformed records skipped so far.
	Invalid() int64
	// Err is the fatal error that ended the stream, if any.
	Err() error
}

// RowEstimator is implemented by Rows that can estimate how many records
// they will yield (a CSV file of known size, from the length of its first
// lines). Profilers use it to size their samples once instead of growing
// them by doubling, which copies every value about twice.
type RowEstimator interface {
	EstimatedRows() int64
}
