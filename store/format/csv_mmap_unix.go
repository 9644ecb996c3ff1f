//go:build unix

package format

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapCSV maps f and reads it as CSV; nil without an error when f cannot be
// mapped (empty, not a regular file), for the caller to read it instead.
func mapCSV(f *os.File, opts Options) (*CSV, io.Closer, error) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 || fi.Size() != int64(int(fi.Size())) {
		return nil, nil, nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, nil
	}
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	c, err := NewCSVString(unsafe.String(&data[0], len(data)), opts)
	if err != nil {
		unix.Munmap(data)
		return nil, nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	// Parsed pages are dropped from the process (they stay in the page
	// cache; a cell still held is paged back in on access, unchanged).
	// Parts of a split file drop their own ranges.
	page := unix.Getpagesize()
	c.drop = func(from, to int) {
		from, to = from&^(page-1), to&^(page-1)
		if to > from {
			_ = unix.Madvise(data[from:to], unix.MADV_DONTNEED)
		}
	}
	c.release = c.dropParsed()
	c.file = f
	return c, mapped{data, f}, nil
}

// mapped closes a mapped CSV file: the map, and the file its parts read.
type mapped struct {
	data []byte
	f    *os.File
}

func (m mapped) Close() error { return errors.Join(unix.Munmap(m.data), m.f.Close()) }
