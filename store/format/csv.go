package format

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CSV reads RFC 4180 CSV with a header line (or Options.Columns). An empty
// field is a missing value. Records whose field count differs from the
// header are skipped and counted in Invalid; blank lines are ignored.
//
// It is built for speed: each record costs one string allocation (the cells
// are substrings of it) and the cell slice is reused.
type CSV struct {
	r       *bufio.Reader
	comma   byte
	columns []string
	row     []string
	ends    []int
	buf     []byte
	invalid int64
	line    int64
	err     error
	pending []string // first data row read while checking the header
}

// ErrNoHeader is returned by NewCSV for an empty input without Options.Columns.
var ErrNoHeader = errors.New("format: csv: no header line")

// NewCSV reads the header (unless opts.Columns is set) and returns the rows.
func NewCSV(r io.Reader, opts Options) (*CSV, error) {
	c := &CSV{r: bufio.NewReaderSize(r, 1<<16), comma: opts.Comma}
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
	c.columns = append([]string(nil), fields...)
	c.row = make([]string, len(c.columns))
	return c, nil
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
			return false
		}
		if len(fields) != len(c.columns) {
			c.invalid++
			continue
		}
		return true
	}
}

// readRecord parses the next non-blank record into c.row (or a fresh slice
// for the header) and returns it.
func (c *CSV) readRecord() ([]string, error) {
	for {
		line, err := c.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// long line: accumulate
			c.buf = append(c.buf[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = c.r.ReadSlice('\n')
				c.buf = append(c.buf, line...)
			}
			line = c.buf
		}
		if len(line) == 0 && err != nil {
			return nil, err
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		c.line++
		trimmed := trimEOL(line)
		if len(trimmed) == 0 {
			if err == io.EOF {
				return nil, io.EOF
			}
			continue
		}
		if bytes.IndexByte(trimmed, '"') < 0 {
			return c.split(trimmed), nil
		}
		return c.parseQuoted(line)
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// split cuts an unquoted line at the delimiter: one string allocation for
// the whole record.
func (c *CSV) split(line []byte) []string {
	s := string(line)
	out := c.row[:0]
	if out == nil {
		out = make([]string, 0, 16)
	}
	for {
		i := strings.IndexByte(s, c.comma)
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
	if c.columns != nil && len(out) == len(c.columns) {
		c.row = out
	} else if c.columns != nil {
		// keep the reusable slice sized to the header
		c.row = c.row[:len(c.columns)]
	}
	return out
}

// parseQuoted parses a record with quoted fields, which may span lines.
func (c *CSV) parseQuoted(line []byte) ([]string, error) {
	c.buf = c.buf[:0]
	c.ends = c.ends[:0]
	inQuotes := false
	for {
		for i := 0; i < len(line); i++ {
			b := line[i]
			switch {
			case inQuotes && b == '"':
				if i+1 < len(line) && line[i+1] == '"' {
					c.buf = append(c.buf, '"')
					i++
				} else {
					inQuotes = false
				}
			case inQuotes:
				c.buf = append(c.buf, b)
			case b == '"':
				inQuotes = true
			case b == c.comma:
				c.ends = append(c.ends, len(c.buf))
			case b == '\n' || (b == '\r' && i+1 < len(line) && line[i+1] == '\n'):
				// end of record
			default:
				c.buf = append(c.buf, b)
			}
		}
		if !inQuotes {
			break
		}
		next, err := c.r.ReadBytes('\n')
		if len(next) == 0 {
			if err == nil || err == io.EOF {
				// unterminated quote at EOF: take what we have
				break
			}
			return nil, err
		}
		c.line++
		line = next
	}
	c.ends = append(c.ends, len(c.buf))
	s := string(c.buf)
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
