package format

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// sepWindow indexes the delimiters and line ends of a stretch of the
// current chunk, so that records are cut from bitmaps instead of searched
// a byte or a word at a time: one vector pass finds the line ends, the
// delimiters and any quote of 64 KiB together (on amd64 with AVX2, 32
// bytes an instruction), where the record-at-a-time path searched each
// line three times (its end, a quote, its delimiters).
type sepWindow struct {
	// base and end bound the indexed bytes of the chunk: bit i%64 of
	// seps[i/64] is set when chunk[base+i] is the delimiter or '\n', of
	// lines[i/64] when it is '\n'.
	base, end   int
	seps, lines []uint64
	// quoted marks a quote in the window: its records take the quoted path.
	quoted bool
}

// fastRecords turns fastRecord on (a variable for tests, which compare it
// with the record-at-a-time path).
var fastRecords = true

// sepWindowBytes is how much input a window indexes (at most 16 KiB of
// masks).
const sepWindowBytes = 64 << 10

// index indexes chunk[from:] up to sepWindowBytes.
func (w *sepWindow) index(chunk string, from int, comma byte) {
	s := chunk[from:min(len(chunk), from+sepWindowBytes)]
	if words := (len(s) + 63) / 64; len(w.seps) < words {
		// As large as the input needs (a small file, small masks).
		w.seps, w.lines = make([]uint64, words), make([]uint64, words)
	}
	w.base, w.end = from, from+len(s)
	whole := len(s) / 64
	w.quoted = sepBlocks(s[:whole*64], comma, w.seps[:whole], w.lines[:whole])
	if tail := s[whole*64:]; len(tail) > 0 {
		var seps, lines uint64
		for i := 0; i < len(tail); i++ {
			switch tail[i] {
			case '\n':
				lines |= 1 << i
				seps |= 1 << i
			case comma:
				seps |= 1 << i
			case '"':
				w.quoted = true
			}
		}
		w.seps[whole], w.lines[whole] = seps, lines
	}
}

// fastRecord cuts the record at c.pos into c.row using the window, and
// reports false, having consumed nothing, when the record is not for it:
// the header, a window with a quote, a record with more fields than
// columns, a record running past the indexed bytes (re-indexed from its
// start once), or the chunk's end (the record-at-a-time path reads on).
// Blank lines are skipped.
func (c *CSV) fastRecord() ([]string, bool) {
	if c.columns == nil || c.comma == '\n' || c.comma == '"' || c.comma == '\r' {
		return nil, false
	}
	w := &c.win
	for reindexed := false; ; reindexed = true {
		if c.pos < w.base || c.pos >= w.end {
			if c.pos >= len(c.chunk) {
				return nil, false
			}
			w.index(c.chunk, c.pos, c.comma)
			reindexed = true
		}
		if w.quoted {
			return nil, false
		}
		row, ok, more := c.cut()
		if ok {
			return row, true
		}
		if !more || reindexed || w.end == len(c.chunk) {
			return nil, false
		}
		w.end = 0 // re-index from the record's start
	}
}

// cut cuts the record at c.pos from the window's masks, skipping blank
// lines. more reports a record that may end past the window; a record with
// more fields than columns is not cut either.
func (c *CSV) cut() (row []string, ok, more bool) {
	w, s := &c.win, c.chunk
	start := c.pos
	var end int // the record's line end
	for {
		rel := start - w.base
		k := rel >> 6
		m := w.lines[k] &^ (1<<(rel&63) - 1)
		for m == 0 {
			if k++; k >= len(w.lines) || w.base+k<<6 >= w.end {
				return nil, false, true
			}
			m = w.lines[k]
		}
		end = w.base + k<<6 + bits.TrailingZeros64(m)
		if end > start && !(end == start+1 && s[start] == '\r') {
			break
		}
		start = end + 1 // a blank line
	}
	// The fields: cut at each delimiter before the line end.
	out := c.row
	n, cell := 0, start
	rel := start - w.base
	k := rel >> 6
	m := w.seps[k] &^ (1<<(rel&63) - 1)
	for {
		for m == 0 {
			k++
			m = w.seps[k]
		}
		j := w.base + k<<6 + bits.TrailingZeros64(m)
		if j == end {
			break
		}
		m &= m - 1
		if n == len(out) {
			return nil, false, false
		}
		out[n] = s[cell:j]
		n++
		cell = j + 1
	}
	if n != len(out)-1 {
		return nil, false, false // too few fields: the other path counts it
	}
	last := end
	if last > cell && s[last-1] == '\r' {
		last--
	}
	out[n] = s[cell:last]
	c.pos = end + 1
	if c.release != nil && c.pos >= c.nextRelease {
		c.release(c.pos)
		c.nextRelease = c.pos + releaseChunk
	}
	return out, true, false
}

// sepBlocksGo is sepBlocks eight bytes at a time: the high bit of each
// matching byte (zeroBytes), gathered into one bit a byte by a multiply.
func sepBlocksGo(s string, comma byte, seps, lines []uint64) (quoted bool) {
	const ones = 0x0101010101010101
	commas, newlines, quotes := uint64(comma)*ones, uint64('\n')*ones, uint64('"')*ones
	var q uint64
	for k := range seps {
		var sm, lm uint64
		for b := range 8 {
			w := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[k*64+b*8:]), 8))
			nl := zeroBytes(w ^ newlines)
			sm |= ((zeroBytes(w^commas) | nl) >> 7 * 0x0102040810204080 >> 56) << (b * 8)
			lm |= (nl >> 7 * 0x0102040810204080 >> 56) << (b * 8)
			q |= zeroBytes(w ^ quotes)
		}
		seps[k], lines[k] = sm, lm
	}
	return q != 0
}
