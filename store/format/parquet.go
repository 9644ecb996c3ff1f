package format

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	pformat "github.com/parquet-go/parquet-go/format"

	"github.com/vigilml/vigil/analysis"
)

// OpenParquet streams the rows of a Parquet file. Parquet keeps its schema in
// a footer at the end, so it needs random access: an *os.File (or any
// io.ReaderAt with a Size method) is read in place; any other reader is first
// spooled to a temporary file, never to memory. Rows are read a row group
// page at a time.
//
// Columns are the leaf columns of the schema, nested names joined with ".".
// Cells are rendered as text: integers and floats in Go's shortest form,
// booleans as true/false, TIMESTAMP columns in RFC 3339 (UTC), DATE as
// yyyy-mm-dd, nulls as "". Of a repeated column only the first value is kept.
//
// What the file declares (footer length, page sizes and counts, decompressed
// sizes) is checked against the file itself and DefaultParquetLimits before
// parquet-go reads it, so a hostile or corrupt file is an error, never an
// allocation of what it claims.
func OpenParquet(r io.Reader) (analysis.Rows, error) {
	return OpenParquetLimits(r, DefaultParquetLimits)
}

// OpenParquetLimits is OpenParquet with other limits.
func OpenParquetLimits(r io.Reader, lim ParquetLimits) (analysis.Rows, error) {
	ra, size, cleanup, err := readerAt(r)
	if err != nil {
		return nil, err
	}
	if err := checkParquet(ra, size, lim); err != nil {
		cleanup()
		return nil, fmt.Errorf("parquet: %w", err)
	}
	f, err := openParquetFile(ra, size)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("parquet: %w", err)
	}
	paths := f.Schema().Columns()
	p := &parquetRows{
		file:    f,
		cleanup: cleanup,
		cols:    make([]string, len(paths)),
		render:  make([]func(parquet.Value) string, len(paths)),
		row:     make([]string, len(paths)),
		seen:    make([]bool, len(paths)),
		buf:     make([]parquet.Row, 128),
	}
	for i, path := range paths {
		p.cols[i] = strings.Join(path, ".")
		leaf, _ := f.Schema().Lookup(path...)
		p.render[i] = renderer(leaf.Node)
	}
	p.groups = f.RowGroups()
	for _, g := range f.Metadata().RowGroups {
		p.groupBytes = append(p.groupBytes, g.TotalByteSize)
	}
	return p, nil
}

// EstimatedRows implements analysis.RowEstimator: the rows the footer
// declares.
func (p *parquetRows) EstimatedRows() int64 { return p.file.NumRows() }

// Split implements analysis.Splitter: before the first row is read, the row
// groups are cut into parts of consecutive groups of at least partBytes
// (their uncompressed size as the footer declares it), read concurrently
// from the same file. A part that fails (a corrupt page) makes the caller
// read the file whole, which reports the error.
func (p *parquetRows) Split(partBytes int) []analysis.Rows {
	if p.part || p.started || len(p.groups) < 2 || len(p.groupBytes) != len(p.groups) || partBytes <= 0 {
		return nil
	}
	var parts []analysis.Rows
	for start := 0; start < len(p.groups); {
		end, size := start, int64(0)
		for end < len(p.groups) && size < int64(partBytes) {
			size += p.groupBytes[end]
			end++
		}
		parts = append(parts, &parquetRows{file: p.file, groups: p.groups[start:end], part: true,
			cols: p.cols, render: p.render, row: make([]string, len(p.cols)), seen: make([]bool, len(p.cols)),
			buf: make([]parquet.Row, len(p.buf))})
		start = end
	}
	if len(parts) < 2 {
		return nil
	}
	return parts
}

type parquetRows struct {
	file    *parquet.File
	groups  []parquet.RowGroup // row groups not opened yet
	rows    parquet.Rows       // the open row group's rows
	cleanup func()
	cols    []string
	render  []func(parquet.Value) string
	row     []string
	seen    []bool
	buf     []parquet.Row
	n, i    int
	err     error
	done    bool
	// groupBytes are the uncompressed sizes of groups (Split); started is
	// set by the first Next; part marks a part made by Split.
	groupBytes []int64
	started    bool
	part       bool
}

func (p *parquetRows) Columns() []string { return p.cols }
func (p *parquetRows) Row() []string     { return p.row }
func (p *parquetRows) Invalid() int64    { return 0 }
func (p *parquetRows) Err() error        { return p.err }

// openParquetFile is parquet.OpenFile with its panics on corrupt input
// turned into errors.
func openParquetFile(ra io.ReaderAt, size int64) (f *parquet.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("corrupt file: %v", r)
		}
	}()
	// The page index and bloom filters are not used to read rows; skipping
	// them also skips the sizes they declare.
	return parquet.OpenFile(ra, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
}

func (p *parquetRows) Next() (ok bool) {
	// parquet-go (v0.32) panics on some corrupt pages (found by FuzzParquet):
	// end the rows with an error instead.
	defer func() {
		if r := recover(); r != nil {
			p.done, p.err, ok = true, fmt.Errorf("parquet: corrupt file: %v", r), false
		}
	}()
	p.started = true
	for p.i >= p.n {
		if p.done {
			return false
		}
		if p.rows == nil {
			if len(p.groups) == 0 {
				p.done = true
				return false
			}
			p.rows, p.groups = p.groups[0].Rows(), p.groups[1:]
		}
		n, err := p.rows.ReadRows(p.buf)
		p.n, p.i = n, 0
		if err != nil {
			p.rows.Close()
			p.rows = nil
			if !errors.Is(err, io.EOF) {
				p.done = true
				p.err = fmt.Errorf("parquet: %w", err)
				return false
			}
		}
	}
	clear(p.row)
	clear(p.seen)
	for _, v := range p.buf[p.i] {
		c := v.Column()
		if c < 0 || c >= len(p.row) || p.seen[c] {
			continue
		}
		p.seen[c] = true
		if !v.IsNull() {
			p.row[c] = p.render[c](v)
		}
	}
	p.i++
	return true
}

// Close releases the reader and any temporary file.
func (p *parquetRows) Close() error {
	if p.rows != nil {
		p.rows.Close()
		p.rows = nil
	}
	p.done = true
	if p.cleanup != nil {
		p.cleanup()
		p.cleanup = nil
	}
	return nil
}

// renderer picks how a leaf column's values become text.
func renderer(n parquet.Node) func(parquet.Value) string {
	if n == nil {
		return func(v parquet.Value) string { return v.String() }
	}
	if lt := n.Type().LogicalType(); lt != nil {
		switch t := lt.Value.(type) {
		case *pformat.TimestampType:
			unit := time.Millisecond
			if t.Unit.Value != nil {
				unit = t.Unit.Value.Duration()
			}
			return func(v parquet.Value) string {
				d := v.Int64()
				return time.Unix(0, 0).Add(time.Duration(d) * unit).UTC().Format(time.RFC3339Nano)
			}
		case *pformat.DateType:
			return func(v parquet.Value) string {
				return time.Unix(int64(v.Int32())*86400, 0).UTC().Format("2006-01-02")
			}
		}
	}
	return func(v parquet.Value) string {
		switch v.Kind() {
		case parquet.Boolean:
			return strconv.FormatBool(v.Boolean())
		case parquet.Int32:
			return strconv.FormatInt(int64(v.Int32()), 10)
		case parquet.Int64:
			return strconv.FormatInt(v.Int64(), 10)
		case parquet.Float:
			return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32)
		case parquet.Double:
			return strconv.FormatFloat(v.Double(), 'g', -1, 64)
		case parquet.ByteArray, parquet.FixedLenByteArray:
			return string(v.ByteArray())
		}
		return v.String()
	}
}

// readerAt gives random access to r: files in place, anything else through a
// temporary file.
func readerAt(r io.Reader) (io.ReaderAt, int64, func(), error) {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return f, st.Size(), func() {}, nil
		}
	}
	if s, ok := r.(interface {
		io.ReaderAt
		Size() int64
	}); ok {
		return s, s.Size(), func() {}, nil
	}
	tmp, err := os.CreateTemp("", "vigil-*.parquet")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("parquet: spool: %w", err)
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, r)
	if err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("parquet: spool: %w", err)
	}
	return tmp, n, cleanup, nil
}
