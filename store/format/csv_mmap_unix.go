//go:build unix

package format

import (
	"fmt"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releaseEvery is how much parsed input accumulates before its pages are
// released.
const releaseEvery = 4 << 20

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
	released := 0
	c.release = func(upto int) {
		end := upto &^ (unix.Getpagesize() - 1)
		if end-released >= releaseEvery {
			_ = unix.Madvise(data[released:end], unix.MADV_DONTNEED)
			released = end
		}
	}
	return c, unmapper(data), nil
}

type unmapper []byte

func (u unmapper) Close() error { return unix.Munmap(u) }
