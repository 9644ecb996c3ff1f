package format

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unsafe"
)

// DefaultMaxRecordBytes bounds one JSONL or SageMaker line (0 in the
// options): a longer line is skipped and counted as invalid, read through
// without being kept, so one oversized record neither fails its file nor
// takes memory in proportion to its size.
const DefaultMaxRecordBytes = 64 << 20

// lineReader reads lines of any length up to max, each into a string of
// its own. A line longer than the reader's buffer is gathered in chunks
// and copied once into a buffer of its exact size, which becomes the
// string: a 50 MB line costs about twice its size at the peak (chunks and
// result) instead of the 5× of growing one slice by append.
type lineReader struct {
	br     *bufio.Reader
	max    int
	chunks [][]byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	if max <= 0 {
		max = DefaultMaxRecordBytes
	}
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its line ending; tooLong reports a
// line over max, whose bytes were skipped. err is io.EOF at the end.
func (l *lineReader) next() (line string, tooLong bool, err error) {
	b, err := l.br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		if err != nil && (len(b) == 0 || !errors.Is(err, io.EOF)) {
			return "", false, err
		}
		if len(b) > l.max {
			return "", true, nil
		}
		return string(trimEOL(b)), false, nil
	}
	n := 0
	for {
		n += len(b)
		if n > l.max {
			l.drop()
			if errors.Is(err, bufio.ErrBufferFull) {
				l.discard()
			}
			return "", true, nil
		}
		l.chunks = append(l.chunks, bytes.Clone(b))
		if !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
		b, err = l.br.ReadSlice('\n')
	}
	if err != nil && !errors.Is(err, io.EOF) {
		l.drop()
		return "", false, err
	}
	buf := make([]byte, 0, n)
	for _, c := range l.chunks {
		buf = append(buf, c...)
	}
	l.drop()
	buf = trimEOL(buf)
	if len(buf) == 0 {
		return "", false, nil
	}
	// buf is never written again: the string may share it.
	return unsafe.String(&buf[0], len(buf)), false, nil
}

// drop forgets the chunks of a long line.
func (l *lineReader) drop() {
	clear(l.chunks)
	l.chunks = l.chunks[:0]
}

// discard skips the rest of the current line.
func (l *lineReader) discard() {
	for {
		_, err := l.br.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
