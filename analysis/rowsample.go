package analysis

import (
	"bytes"
	"slices"
	"strings"
	"unsafe"
)

// DefaultRowSample is how many rows of a window the row-level analyses
// (estimated performance, weak segments, multivariate drift, reference
// bands) look at (Options.RowSample).
const DefaultRowSample = 5000

// RowSample is a uniform sample of whole rows of a window, kept for the
// analyses that need columns jointly (a column profile keeps each column
// alone). It is a bottom-k sample: every row gets a pseudo-random priority
// (Profiler.sampleRow), and the K rows of smallest priority are kept, so
// the samples of shards merge into a uniform sample of their union (Merge
// keeps the K smallest of both).
//
// A row is kept as one string, its cells (laid out as the schema) joined by
// NUL, with NUL and \x01 inside a cell escaped as \x01\x02 and \x01\x01,
// its bytes in a shared block (rowArena): no allocation per kept row, and
// nothing the garbage collector must scan.
type RowSample struct {
	K int `json:"k"`
	// Rows and Keys pair up by index (a row's slot).
	Rows []string `json:"rows"`
	Keys []uint64 `json:"keys"`

	// heap orders the slots by key, largest first, once the sample is full
	// (rebuilt when nil): replacing a row moves slot numbers, not rows.
	heap []int32
}

// mix64 is splitmix64's finaliser.
func mix64(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

func (s *RowSample) full() bool { return len(s.Keys) >= s.K }

// top is the slot of the largest key kept (the sample is full).
func (s *RowSample) top() int32 {
	if len(s.heap) != len(s.Keys) {
		s.heap = make([]int32, len(s.Keys))
		for i := range s.heap {
			s.heap[i] = int32(i)
		}
		for i := len(s.heap)/2 - 1; i >= 0; i-- {
			s.siftDown(i)
		}
	}
	return s.heap[0]
}

func (s *RowSample) siftDown(i int) {
	h, n := s.heap, len(s.heap)
	slot := h[i]
	key := s.Keys[slot]
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s.Keys[h[c+1]] > s.Keys[h[c]] {
			c++
		}
		if s.Keys[h[c]] <= key {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = slot
}

// wants reports whether a row of this priority would be kept.
func (s *RowSample) wants(key uint64) bool { return !s.full() || key < s.Keys[s.top()] }

// add keeps an encoded row of this priority if it is among the K smallest.
func (s *RowSample) add(key uint64, row string) {
	if !s.full() {
		s.Keys = append(s.Keys, key)
		s.Rows = append(s.Rows, row)
		return
	}
	slot := s.top()
	if key >= s.Keys[slot] {
		return
	}
	s.Keys[slot], s.Rows[slot] = key, row
	s.siftDown(0)
}

// merge adds the rows of o.
func (s *RowSample) merge(o *RowSample) {
	if o == nil {
		return
	}
	for i, k := range o.Keys {
		s.add(k, o.Rows[i])
	}
}

// rowArena hands out the bytes of encoded rows from 64 KiB blocks: one
// allocation per block instead of one per kept row. A row replaced in the
// sample leaves its bytes in the block until every row of the block is gone.
type rowArena struct {
	block []byte
}

// cellAt is cell i of a row laid out by idx (row[idx[i]], "" when out of
// range), or row[i] when idx is nil.
func cellAt(row []string, idx []int, i int) string {
	if idx == nil {
		return row[i]
	}
	j := idx[i]
	if j < 0 || j >= len(row) {
		return ""
	}
	return row[j]
}

// encodeRow joins the cells of a row (laid out by idx, as cellAt) as
// RowSample keeps them. It copies the cells plainly first and checks the
// copy with two vectorised scans; only a row with NUL or \x01 in a cell is
// encoded again with escapes. This runs for every row the sample accepts
// (about K·(1 + ln(rows/K)) of a window), so it avoids a call per cell.
func (a *rowArena) encodeRow(row []string, idx []int) string {
	n := len(row)
	if idx != nil {
		n = len(idx)
	}
	size := n - 1
	for i := range n {
		size += len(cellAt(row, idx, i))
	}
	if size <= 0 {
		return ""
	}
	if cap(a.block)-len(a.block) < size {
		a.block = make([]byte, 0, max(64<<10, size))
	}
	start := len(a.block)
	b := a.block
	for i := range n {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, cellAt(row, idx, i)...)
	}
	if got := b[start:]; bytes.Count(got, []byte{0}) != n-1 || bytes.IndexByte(got, 1) >= 0 {
		b, start = a.escaped(b[:start], row, idx, n)
	}
	a.block = b
	return unsafe.String(&b[start], len(b)-start)
}

// escaped appends the cells with NUL and \x01 escaped, moving to a new
// block when this one has no room for the worst case (every byte doubled).
func (a *rowArena) escaped(b []byte, row []string, idx []int, n int) ([]byte, int) {
	size := n - 1
	for i := range n {
		size += 2 * len(cellAt(row, idx, i))
	}
	if cap(b)-len(b) < size {
		b = make([]byte, 0, max(64<<10, size))
	}
	start := len(b)
	for i := range n {
		if i > 0 {
			b = append(b, 0)
		}
		c := cellAt(row, idx, i)
		for k := 0; k < len(c); k++ {
			switch c[k] {
			case 0:
				b = append(b, 1, 2)
			case 1:
				b = append(b, 1, 1)
			default:
				b = append(b, c[k])
			}
		}
	}
	return b, start
}

// decodeRow splits a kept row into its cells.
func decodeRow(row string) []string {
	cells := strings.Split(row, "\x00")
	if strings.IndexByte(row, 1) < 0 {
		return cells
	}
	for i, c := range cells {
		cells[i] = unescapeCell(c)
	}
	return cells
}

var cellUnescaper = strings.NewReplacer("\x01\x02", "\x00", "\x01\x01", "\x01")

// unescapeCell undoes encodeRow's escapes in one cell.
func unescapeCell(c string) string {
	if strings.IndexByte(c, 1) < 0 {
		return c
	}
	return cellUnescaper.Replace(c)
}

// sorted returns the decoded rows in priority order: any prefix is a
// uniform sample of the window (what a sub-sample of n rows takes).
func (s *RowSample) sorted() [][]string {
	idx := make([]int, len(s.Keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case s.Keys[a] < s.Keys[b]:
			return -1
		case s.Keys[a] > s.Keys[b]:
			return 1
		}
		return strings.Compare(s.Rows[a], s.Rows[b])
	})
	// All cells in one backing array: one allocation, not one per row.
	total := 0
	for _, r := range s.Rows {
		total += strings.Count(r, "\x00") + 1
	}
	cells := make([]string, 0, total)
	out := make([][]string, len(idx))
	for i, j := range idx {
		from := len(cells)
		r := s.Rows[j]
		for {
			k := strings.IndexByte(r, 0)
			if k < 0 {
				cells = append(cells, r)
				break
			}
			cells = append(cells, r[:k])
			r = r[k+1:]
		}
		row := cells[from:len(cells):len(cells)]
		if strings.IndexByte(s.Rows[j], 1) >= 0 {
			for k, c := range row {
				row[k] = unescapeCell(c)
			}
		}
		out[i] = row
	}
	return out
}
