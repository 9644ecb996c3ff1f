package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"strings"
	"sync"
	"unsafe"

	"github.com/vigilml/vigil/analysis"
)

// CSV reads RFC 4180 CSV with a header line (or Options.Columns). An empty
// field is a missing value. Records whose field count differs from the
// header are skipped and counted in Invalid; blank lines are ignored.
//
// It is built for speed: input is converted to strings a 256 KiB block at a
// time and cells are substrings of the block, so reading costs one
// allocation per block, not per cell or record; the cell slice is reused.
// (Holding on to a cell keeps its block alive: strings.Clone what you keep in
// bulk.) Records are cut from bitmaps of the delimiters and line ends of
// 64 KiB at a time (sepWindow); a stretch with a quote is read a record at a
// time. Quoted fields may contain the delimiter, "" and newlines.
type CSV struct {
	r     io.Reader
	comma byte
	// chunk holds whole lines of input as one string (plus, at EOF, a last
	// line without newline); carry holds the partial line read after them.
	chunk   string
	pos     int
	carry   []byte
	eof     bool
	columns []string
	row     []string
	qbuf    []byte
	ends    []int
	invalid int64
	err     error
	// size is the input's length when known (files, in-memory readers),
	// for EstimatedRows; 0 otherwise.
	size int64
	// release, when set, is told how far the input has been parsed (a
	// memory-mapped file drops those pages).
	release     func(upto int)
	nextRelease int
	// drop, when set, releases the pages of input bytes [from, to) (a
	// memory-mapped file); base is the offset of chunk in that input.
	drop func(from, to int)
	base int
	// part marks a CSV made by Split: it stops with errQuotedPart at a
	// quote, and does not split again.
	part bool
	// file is the mapped file, which parts read with ReadAt; reuse is a
	// part's read buffer of reuseSize bytes, allocated by its first read,
	// refilled in place and dropped at its end.
	file      io.ReaderAt
	reuse     []byte
	reuseSize int
	// win indexes the delimiters of the chunk ahead (fastRecord).
	win sepWindow
}

// partBlock is the size of the read buffer of a part of a split file (a
// variable for tests).
var partBlock = 1 << 20

// partBuffers recycles the read buffers of finished parts: the parts of a
// split file are read one after another on each core, and memory touched
// for the first time costs more than reading into it (on this VM about
// 1.5 ms of system time a MB).
var partBuffers sync.Pool

// errQuotedPart ends a part of a split CSV at a quoted field: a quoted
// field may hold a line end, so the cuts may be wrong, and the caller reads
// the whole CSV instead (analysis.Splitter).
var errQuotedPart = errors.New("format: csv: quoted field in a part of a split file")

// Split implements analysis.Splitter: the unread input, when held whole in
// memory (a mapped file, NewCSVString), is cut after the first line end
// following every partBytes, into CSVs with the same columns. Parts of a
// file read their bytes with ReadAt into a buffer of their own, reused from
// block to block: a cell of a part is valid until its next record only
// (the profiler copies what it keeps). Reading costs a copy, but far less
// CPU than mapping the pages of a large file (1.1 s against 0.3–0.5 s of
// CPU to find the lines of a 942 MB file, measured on a loaded 2-core VM).
func (c *CSV) Split(partBytes int) []analysis.Rows {
	if c.part || !c.eof || len(c.carry) > 0 || c.err != nil || partBytes <= 0 || len(c.chunk)-c.pos < 2*partBytes {
		return nil
	}
	rest := c.chunk[c.pos:]
	var parts []analysis.Rows
	for start := 0; start < len(rest); {
		size := partBytes
		if len(rest)-start <= 2*partBytes {
			// The last parts are smaller, so that the cores finish
			// together: a part is read by one core, and the last large
			// one would be read while the other cores wait.
			size = max(partBytes/4, 1)
		}
		end := start + size
		if end >= len(rest) || len(rest)-end < size/4 {
			end = len(rest) // no sliver of a part at the end
		} else if i := strings.IndexByte(rest[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(rest)
		}
		p := &CSV{comma: c.comma, columns: c.columns, row: make([]string, len(c.columns)),
			size: int64(end - start), part: true}
		if c.file != nil {
			p.r = io.NewSectionReader(c.file, int64(c.base+c.pos+start), int64(end-start))
			p.reuseSize = partBlock // allocated by its first read
		} else {
			p.chunk, p.eof = rest[start:end], true
		}
		parts = append(parts, p)
		start = end
	}
	return parts
}

// Transient implements analysis.Transient: the unread records of a mapped
// file, read with ReadAt into a buffer reused from block to block (cells
// valid until the next record); quoted fields are read as usual. nil for
// other inputs.
func (c *CSV) Transient() analysis.Rows {
	if c.file == nil || c.part || !c.eof || len(c.carry) > 0 || c.err != nil {
		return nil
	}
	rest := len(c.chunk) - c.pos
	t := &CSV{comma: c.comma, columns: c.columns, row: make([]string, len(c.columns)), size: int64(rest),
		r: io.NewSectionReader(c.file, int64(c.base+c.pos), int64(rest)), reuseSize: partBlock}
	c.pos = len(c.chunk) // handed over
	return t
}

// dropParsed returns a release function that drops the pages of the
// chunk parsed so far, every releaseEvery bytes.
func (c *CSV) dropParsed() func(upto int) {
	released := c.base
	return func(upto int) {
		if end := c.base + upto; end-released >= releaseEvery {
			c.drop(released, end)
			released = end
		}
	}
}

// ErrNoHeader is returned by NewCSV for an empty input without Options.Columns.
var ErrNoHeader = errors.New("format: csv: no header line")

// NewCSV reads the header (unless opts.Columns is set) and returns the rows.
func NewCSV(r io.Reader, opts Options) (*CSV, error) {
	c := &CSV{r: r, comma: opts.Comma, size: inputSize(r)}
	return c.start(opts)
}

// start reads the header (unless opts.Columns is set).
func (c *CSV) start(opts Options) (*CSV, error) {
	if c.comma == 0 {
		c.comma = ','
	}
	if len(opts.Columns) > 0 {
		c.columns = append([]string(nil), opts.Columns...)
		c.row = make([]string, len(c.columns))
		return c, nil
	}
	fields, err := c.readRecord()
	if err != nil {
		if err == io.EOF {
			return nil, ErrNoHeader
		}
		return nil, fmt.Errorf("format: csv header: %w", err)
	}
	fields[0] = strings.TrimPrefix(fields[0], "\ufeff")
	c.columns = make([]string, len(fields))
	for i, f := range fields {
		c.columns[i] = strings.Clone(f)
	}
	c.row = make([]string, len(c.columns))
	return c, nil
}

// EstimatedRows implements analysis.RowEstimator: the input's size divided
// by the mean length of the lines in the current block, at most its first
// 256 KiB (0 when the size is unknown).
func (c *CSV) EstimatedRows() int64 {
	if c.size <= 0 || c.chunk == "" {
		return 0
	}
	head := c.chunk[:min(len(c.chunk), csvBlock)] // a mapped file is one chunk: sample its start
	lines := strings.Count(head, "\n")
	if lines == 0 {
		return 0
	}
	return int64(float64(c.size) / (float64(len(head)) / float64(lines)))
}

// inputSize is the length of r if it tells (os.File, bytes and strings
// readers), else 0.
func inputSize(r io.Reader) int64 {
	switch r := r.(type) {
	case interface{ Size() int64 }:
		return r.Size()
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return 0
}

// Columns implements analysis.Rows.
func (c *CSV) Columns() []string { return c.columns }

// Row implements analysis.Rows.
func (c *CSV) Row() []string { return c.row }

// Invalid implements analysis.Rows.
func (c *CSV) Invalid() int64 { return c.invalid }

// Err implements analysis.Rows.
func (c *CSV) Err() error { return c.err }

// Next implements analysis.Rows.
func (c *CSV) Next() bool {
	for {
		fields, err := c.readRecord()
		if err != nil {
			if err != io.EOF {
				c.err = err
			}
			if c.drop != nil {
				// The tail parsed since the last release: a file split in
				// many parts would otherwise keep one per part mapped.
				c.drop(c.base, c.base+len(c.chunk))
			}
			if c.reuseSize > 0 {
				// a finished part's buffer, to the next part
				if cap(c.reuse) == c.reuseSize {
					b := c.reuse[:c.reuseSize]
					partBuffers.Put(&b)
				}
				c.reuse, c.chunk, c.pos, c.carry = nil, "", 0, nil
				clear(c.row)
			}
			return false
		}
		if len(fields) != len(c.columns) {
			c.invalid++
			continue
		}
		return true
	}
}

const csvBlock = 256 << 10

// releaseEvery is how much parsed input of a mapped file accumulates
// before its pages are released.
const releaseEvery = 4 << 20

// releaseChunk is how often (in bytes parsed) release is called.
const releaseChunk = 1 << 20

// nextLine returns the next line without its end-of-line bytes.
func (c *CSV) nextLine() (string, error) {
	for {
		if i := strings.IndexByte(c.chunk[c.pos:], '\n'); i >= 0 {
			line := c.chunk[c.pos : c.pos+i]
			c.pos += i + 1
			if c.release != nil && c.pos >= c.nextRelease {
				c.release(c.pos)
				c.nextRelease = c.pos + releaseChunk
			}
			return strings.TrimSuffix(line, "\r"), nil
		}
		if c.pos < len(c.chunk) { // last line at EOF, no newline
			line := c.chunk[c.pos:]
			c.pos = len(c.chunk)
			return strings.TrimSuffix(line, "\r"), nil
		}
		if c.eof {
			return "", io.EOF
		}
		if err := c.fill(); err != nil {
			return "", err
		}
	}
}

// fill reads at least one more block and turns the carried partial line plus
// the new input, up to its last newline, into the next chunk.
func (c *CSV) fill() error {
	// Read straight into a fresh block that becomes the chunk's string
	// (cells are substrings of it, so it is never written again): one copy
	// of the input fewer than reading into a buffer and converting.
	var buf []byte
	if c.reuse == nil && c.reuseSize > 0 && !c.eof {
		if b, ok := partBuffers.Get().(*[]byte); ok && cap(*b) == c.reuseSize {
			c.reuse = (*b)[:c.reuseSize]
		} else {
			c.reuse = make([]byte, c.reuseSize)
		}
	}
	if c.reuse != nil && cap(c.reuse) >= 2*len(c.carry) {
		// A part: cells live until the next record only, so the block is
		// read again in place (no allocation, no fresh pages).
		buf = c.reuse[:len(c.carry)]
	} else {
		buf = make([]byte, len(c.carry), max(csvBlock, 2*len(c.carry)))
	}
	copy(buf, c.carry)
	for {
		if len(buf) == cap(buf) {
			if bytes.IndexByte(buf, '\n') >= 0 {
				break
			}
			buf = append(buf, 0)[:len(buf)] // a line longer than the block: grow
		}
		n, err := c.r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			c.eof = true
			break
		}
		if err != nil {
			return err
		}
	}
	cut := len(buf)
	if !c.eof {
		cut = bytes.LastIndexByte(buf, '\n') + 1
	}
	c.carry = append(c.carry[:0], buf[cut:]...)
	c.chunk, c.pos = "", 0
	c.win.base, c.win.end = 0, 0
	if cut > 0 {
		c.chunk = unsafe.String(&buf[0], cut)
	}
	return nil
}

// readRecord parses the next non-blank record into c.row (or a fresh slice
// for the header) and returns it.
func (c *CSV) readRecord() ([]string, error) {
	if fastRecords {
		if row, ok := c.fastRecord(); ok {
			return row, nil
		}
	}
	for {
		line, err := c.nextLine()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			continue
		}
		if fields, ok := c.split(line); ok {
			return fields, nil
		}
		if c.part {
			return nil, errQuotedPart
		}
		return c.parseQuoted(line)
	}
}

// split cuts an unquoted line at the delimiter; the cells share its memory.
// It reports false when the line has a quote (see parseQuoted). (Records
// fastRecord cuts from its bitmaps never come here.)
func (c *CSV) split(s string) ([]string, bool) {
	out := c.row[:0]
	if c.columns == nil {
		out = make([]string, 0, 16)
	}
	if strings.IndexByte(s, '"') >= 0 {
		return nil, false // quoted fields: parseQuoted
	}
	// Eight bytes at a time: a mask of the delimiters in a word, then one
	// cell per set bit. Twice as fast as a byte loop on numeric rows.
	commas := uint64(c.comma) * 0x0101010101010101
	start, i := 0, 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		for m := zeroBytes(w ^ commas); m != 0; m &= m - 1 {
			j := i + bits.TrailingZeros64(m)>>3
			out = append(out, s[start:j])
			start = j + 1
		}
	}
	for ; i < len(s); i++ {
		if s[i] == c.comma {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	out = append(out, s[start:])
	if c.columns != nil && len(out) == len(c.columns) && cap(out) == cap(c.row) {
		c.row = out
	}
	return out, true
}

// zeroBytes sets the high bit of every byte of w that is zero, and only of
// those (no borrows between bytes, unlike the shorter (w-0x01..)&^w trick,
// whose false positives after a match would split "x,-1" wrongly).
func zeroBytes(w uint64) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	return ^((w&low7 + low7) | w | low7)
}

// parseQuoted parses a record with quoted fields, which may span lines.
func (c *CSV) parseQuoted(line string) ([]string, error) {
	c.qbuf = c.qbuf[:0]
	c.ends = c.ends[:0]
	inQuotes := false
	for {
		for i := 0; i < len(line); i++ {
			b := line[i]
			switch {
			case inQuotes && b == '"':
				if i+1 < len(line) && line[i+1] == '"' {
					c.qbuf = append(c.qbuf, '"')
					i++
				} else {
					inQuotes = false
				}
			case inQuotes:
				c.qbuf = append(c.qbuf, b)
			case b == '"':
				inQuotes = true
			case b == c.comma:
				c.ends = append(c.ends, len(c.qbuf))
			default:
				c.qbuf = append(c.qbuf, b)
			}
		}
		if !inQuotes {
			break
		}
		next, err := c.nextLine()
		if err == io.EOF {
			break // unterminated quote at EOF: take what we have
		}
		if err != nil {
			return nil, err
		}
		c.qbuf = append(c.qbuf, '\n')
		line = next
	}
	c.ends = append(c.ends, len(c.qbuf))
	s := string(c.qbuf)
	out := make([]string, 0, len(c.ends))
	start := 0
	for _, e := range c.ends {
		out = append(out, s[start:e])
		start = e
	}
	if c.columns != nil && len(out) == len(c.columns) {
		copy(c.row, out)
		return c.row, nil
	}
	return out, nil
}
