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
	return OpenParquetColumns(r, lim, nil)
}

// OpenParquetColumns is OpenParquetLimits reading only the leaf columns for
// which keep returns true (nil keeps every column): the rows have only those
// columns, and the pages of the others are never read or decoded (column
// projection).
func OpenParquetColumns(r io.Reader, lim ParquetLimits, keep func(column string) bool) (analysis.Rows, error) {
	ra, size, cleanup, err := readerAt(r)
	if err != nil {
		return nil, err
	}
	if err := checkParquet(ra, size, lim, keep); err != nil {
		cleanup()
		return nil, fmt.Errorf("parquet: %w", err)
	}
	f, err := openParquetFile(ra, size)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("parquet: %w", err)
	}
	p := &parquetRows{file: f, cleanup: cleanup}
	for i, path := range f.Schema().Columns() {
		name := strings.Join(path, ".")
		if keep != nil && !keep(name) {
			continue
		}
		leaf, _ := f.Schema().Lookup(path...)
		p.cols = append(p.cols, name)
		p.leaves = append(p.leaves, i)
		p.render = append(p.render, renderer(leaf.Node))
	}
	p.row = make([]string, len(p.cols))
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
			cols: p.cols, leaves: p.leaves, render: p.render, row: make([]string, len(p.cols))})
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
	cursors []columnCursor     // the open row group's kept columns; nil between groups
	left    int64              // rows of the open row group not read yet
	cleanup func()
	cols    []string
	leaves  []int // the file's leaf column index of each kept column
	render  []func(parquet.Value) string
	row     []string
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
			p.closeGroup()
			p.done, p.err, ok = true, fmt.Errorf("parquet: corrupt file: %v", r), false
		}
	}()
	p.started = true
	for p.left == 0 {
		for i := range p.cursors {
			if err := p.cursors[i].fill(); !errors.Is(err, io.EOF) {
				if err == nil {
					err = errors.New("more values than its row group has rows")
				}
				return p.fail(fmt.Errorf("parquet: column %s: %w", p.cols[i], err))
			}
		}
		p.closeGroup()
		if p.done || len(p.groups) == 0 {
			p.done = true
			return false
		}
		g := p.groups[0]
		p.groups = p.groups[1:]
		p.left = g.NumRows()
		if p.left < 0 {
			return p.fail(fmt.Errorf("parquet: row group declares %d rows", p.left))
		}
		chunks := g.ColumnChunks()
		p.cursors = make([]columnCursor, len(p.leaves))
		for i, leaf := range p.leaves {
			if leaf >= len(chunks) {
				return p.fail(fmt.Errorf("parquet: row group has no column %s", p.cols[i]))
			}
			p.cursors[i].pages = chunks[leaf].Pages()
		}
	}
	for i := range p.cursors {
		c := &p.cursors[i]
		v, err := c.next()
		if errors.Is(err, io.EOF) {
			err = errors.New("fewer values than its row group has rows")
		}
		if err != nil {
			return p.fail(fmt.Errorf("parquet: column %s: %w", p.cols[i], err))
		}
		p.row[i] = ""
		if !v.IsNull() {
			p.row[i] = p.render[i](v)
		}
		if err := c.skipRest(); err != nil {
			return p.fail(fmt.Errorf("parquet: column %s: %w", p.cols[i], err))
		}
	}
	p.left--
	return true
}

func (p *parquetRows) fail(err error) bool {
	p.closeGroup()
	p.done, p.err = true, err
	return false
}

func (p *parquetRows) closeGroup() {
	for i := range p.cursors {
		p.cursors[i].close()
	}
	p.cursors, p.left = nil, 0
}

// Close releases the reader and any temporary file.
func (p *parquetRows) Close() error {
	p.closeGroup()
	p.done = true
	if p.cleanup != nil {
		p.cleanup()
		p.cleanup = nil
	}
	return nil
}

// columnCursor reads one column chunk a row at a time: the first value of
// each row (repetition level 0), skipping the rest of a repeated column's
// values. Only its own pages are read and decoded.
type columnCursor struct {
	pages  parquet.Pages
	page   parquet.Page
	values parquet.ValueReader
	buf    []parquet.Value
	n, i   int
}

// next returns the first value of the next row (repetition level 0). The
// value is valid until skipRest (byte arrays may point into the page).
func (c *columnCursor) next() (parquet.Value, error) {
	if err := c.fill(); err != nil {
		return parquet.Value{}, err
	}
	v := c.buf[c.i]
	if v.RepetitionLevel() != 0 {
		return parquet.Value{}, fmt.Errorf("a row starts with repetition level %d", v.RepetitionLevel())
	}
	c.i++
	return v, nil
}

// skipRest skips the rest of a repeated column's row.
func (c *columnCursor) skipRest() error {
	for {
		if err := c.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if c.buf[c.i].RepetitionLevel() == 0 {
			return nil
		}
		c.i++
	}
}

// fill makes c.buf[c.i] a value, reading pages as needed; io.EOF at the end
// of the chunk.
func (c *columnCursor) fill() error {
	for c.i >= c.n {
		if c.values != nil {
			n, err := c.values.ReadValues(c.buf[:cap(c.buf)])
			c.n, c.i = n, 0
			if n > 0 {
				return nil
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			c.values = nil
			parquet.Release(c.page)
			c.page = nil
			continue
		}
		page, err := c.pages.ReadPage()
		if err != nil {
			return err
		}
		c.page, c.values = page, page.Values()
		if c.buf == nil {
			c.buf = make([]parquet.Value, cursorValues)
		}
	}
	return nil
}

func (c *columnCursor) close() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	if c.pages != nil {
		c.pages.Close()
		c.pages = nil
	}
	c.values = nil
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
