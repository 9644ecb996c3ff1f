package analysis

import (
	"container/heap"
	"slices"
	"strings"
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
// NUL, with NUL and \x01 inside a cell escaped as \x01\x02 and \x01\x01:
// one allocation without pointers per kept row, which the garbage collector
// does not scan.
type RowSample struct {
	K    int      `json:"k"`
	Rows []string `json:"rows"`
	Keys []uint64 `json:"keys"`
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

// Len, Less, Swap, Push and Pop make the sample a max-heap on Keys while it
// is being filled (Push and Pop are not used: the heap has a fixed size).
func (s *RowSample) Len() int           { return len(s.Keys) }
func (s *RowSample) Less(i, j int) bool { return s.Keys[i] > s.Keys[j] }
func (s *RowSample) Swap(i, j int) {
	s.Keys[i], s.Keys[j] = s.Keys[j], s.Keys[i]
	s.Rows[i], s.Rows[j] = s.Rows[j], s.Rows[i]
}
func (s *RowSample) Push(any)   {}
func (s *RowSample) Pop() any   { return nil }
func (s *RowSample) full() bool { return len(s.Keys) >= s.K }

// wants reports whether a row of this priority would be kept.
func (s *RowSample) wants(key uint64) bool { return !s.full() || key < s.Keys[0] }

// add keeps an encoded row of this priority if it is among the K smallest.
func (s *RowSample) add(key uint64, row string) {
	if !s.full() {
		s.Keys = append(s.Keys, key)
		s.Rows = append(s.Rows, row)
		if s.full() {
			heap.Init(s)
		}
		return
	}
	if key >= s.Keys[0] {
		return
	}
	// Replace the root and sift it down (heap.Fix without the interface).
	i, n := 0, len(s.Keys)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s.Keys[c+1] > s.Keys[c] {
			c++
		}
		if s.Keys[c] <= key {
			break
		}
		s.Keys[i], s.Rows[i] = s.Keys[c], s.Rows[c]
		i = c
	}
	s.Keys[i], s.Rows[i] = key, row
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

// encodeRow joins cells as RowSample keeps them, in one allocation.
func encodeRow(b *strings.Builder, cells func(i int) string, n int) string {
	size, plain := n, true
	for i := range n {
		c := cells(i)
		size += len(c)
		plain = plain && strings.IndexByte(c, 0) < 0 && strings.IndexByte(c, 1) < 0
	}
	b.Reset()
	b.Grow(size)
	for i := range n {
		if i > 0 {
			b.WriteByte(0)
		}
		c := cells(i)
		if plain {
			b.WriteString(c)
			continue
		}
		for k := 0; k < len(c); k++ {
			switch c[k] {
			case 0:
				b.WriteString("\x01\x02")
			case 1:
				b.WriteString("\x01\x01")
			default:
				b.WriteByte(c[k])
			}
		}
	}
	return b.String()
}

// decodeRow splits a kept row into its cells.
func decodeRow(row string) []string {
	cells := strings.Split(row, "\x00")
	if strings.IndexByte(row, 1) < 0 {
		return cells
	}
	for i, c := range cells {
		if strings.IndexByte(c, 1) >= 0 {
			cells[i] = strings.NewReplacer("\x01\x02", "\x00", "\x01\x01", "\x01").Replace(c)
		}
	}
	return cells
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
	out := make([][]string, len(idx))
	for i, j := range idx {
		out[i] = decodeRow(s.Rows[j])
	}
	return out
}
