package format

import (
	"io"
	"os"
)

// NewCSVString reads CSV held in memory: cells are substrings of s, with no
// copy at all.
func NewCSVString(s string, opts Options) (*CSV, error) {
	c := &CSV{comma: opts.Comma, chunk: s, eof: true, size: int64(len(s))}
	return c.start(opts)
}

// OpenCSVFile reads a local CSV file. On Unix it maps the file read-only, so
// the data goes from the page cache to the parser without read copies, and
// hands the pages it has parsed back to the kernel as it goes (memory stays
// flat however large the file). Cells point into the map until Close:
// callers clone what they keep beyond it. Elsewhere it reads the file.
func OpenCSVFile(path string, opts Options) (*CSV, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	c, closer, err := mapCSV(f, opts)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if c != nil {
		return c, closer, nil // closer closes f
	}
	c, err = NewCSV(f, opts)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, f, nil
}
