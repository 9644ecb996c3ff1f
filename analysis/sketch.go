package analysis

import (
	"math/bits"
	"slices"
	"sort"
	"sync"
)

// Sample holds the numeric values of one column: exactly while there are at
// most Limit of them, then as a mergeable quantile sketch.
//
// The sketch is a deterministic compactor hierarchy in the style of
// Munro–Paterson / KLL: level h holds values of weight 2^h; when a level
// exceeds its capacity (Cap; level 0: level0Factor·Cap) it is sorted and
// every other value (alternating the starting offset between compactions)
// moves up one level. The rank error
// of any query is at most about levels/Cap of the count (≈0.1% with the
// default Cap of 8192 at a few million values), whatever the distribution,
// and two samples merge by concatenating levels. Everything is in exported
// fields so a Profile travels as JSON (for instance between Temporal
// activities).
type Sample struct {
	// N is the number of values added (exact).
	N int64 `json:"n"`
	// Exact holds every value while the sample is exact (Levels == nil).
	Exact []float64 `json:"exact,omitempty"`
	// Levels[h] holds values of weight 2^h once the sample is a sketch.
	Levels [][]float64 `json:"levels,omitempty"`
	// Parity alternates the compaction offset per level.
	Parity []bool `json:"parity,omitempty"`
	// Limit is the largest exact size; Cap is the per-level sketch capacity.
	Limit int `json:"limit"`
	Cap   int `json:"cap"`
	// sortedLen is len(Exact) when Exact was last seen sorted, so repeated
	// Sorted calls (one per drift method) do not rescan it.
	sortedLen int
	// sorted[h] (h ≥ 1) records that level h is in ascending order: a
	// compaction merges the values it moves up into the sorted level above,
	// so only level 0 is ever sorted from scratch (half the sorting of a
	// long stream). Unknown (false) after decoding, and after a Merge that
	// appended a level it could not merge.
	sorted []bool
	// sorted0 is 1 + the length level 0 had when it was last known to be
	// ascending (0: unknown). Values are only ever appended to level 0
	// between compactions, so it still is while its length is the same.
	sorted0 int
	// sortedPoints caches Sorted's points of a sketch of sortedPointsN
	// values: read-only for callers, as an exact sample's are.
	sortedPoints  *[2][]float64
	sortedPointsN int64
}

// levelSorted reports whether level h is known to be sorted.
func (s *Sample) levelSorted(h int) bool {
	if h == 0 {
		return len(s.Levels) > 0 && s.sorted0 == len(s.Levels[0])+1
	}
	return h < len(s.sorted) && s.sorted[h]
}

// setSorted records whether level h, as it is now, is sorted.
func (s *Sample) setSorted(h int, v bool) {
	if h == 0 {
		s.sorted0 = 0
		if v {
			s.sorted0 = len(s.Levels[0]) + 1
		}
		return
	}
	for len(s.sorted) <= h {
		s.sorted = append(s.sorted, false)
	}
	s.sorted[h] = v
}

func newSample(limit, capacity int) *Sample {
	return &Sample{Limit: limit, Cap: capacity}
}

// reserve makes room for n more exact values (up to the exact limit),
// taking the room from the front of *block when it is large enough.
func (s *Sample) reserve(n int64, block *[]float64) {
	want := s.reserveSize(n)
	if want == 0 {
		if s.Levels == nil && n > 0 && len(s.Exact) <= s.Cap && n/2 > int64(s.Limit) {
			// Far more values are coming than are kept exactly: sketch from
			// the first one, instead of holding Limit values only to compact
			// them (that buffer was most of the peak memory of large windows).
			s.toSketch()
		}
		return
	}
	var grown []float64
	if block != nil && int64(len(*block)) >= want {
		grown = (*block)[:len(s.Exact):want]
		*block = (*block)[want:]
	} else {
		grown = make([]float64, len(s.Exact), want)
	}
	copy(grown, s.Exact)
	s.Exact = grown
}

// reserveSize is the capacity reserve(n) gives Exact, or 0 when it leaves
// Exact as it is (a sketch, room enough, or a sample about to become a
// sketch).
func (s *Sample) reserveSize(n int64) int64 {
	if s.Levels != nil || n <= 0 || (len(s.Exact) <= s.Cap && n/2 > int64(s.Limit)) {
		return 0
	}
	want := int64(len(s.Exact)) + n
	want = min(want+want/16, int64(s.Limit)+1) // estimates err a little either way
	if want <= int64(cap(s.Exact)) {
		return 0
	}
	return want
}

// IsExact reports whether every value is still held.
func (s *Sample) IsExact() bool { return s.Levels == nil }

// Add adds one value.
func (s *Sample) Add(v float64) {
	s.N++
	if s.Levels == nil {
		if len(s.Exact) == cap(s.Exact) {
			// double (append grows large slices by only 1.25×)
			grown := make([]float64, len(s.Exact), max(4096, 2*cap(s.Exact)))
			copy(grown, s.Exact)
			s.Exact = grown
		}
		s.Exact = append(s.Exact, v)
		if len(s.Exact) > s.Limit {
			s.toSketch()
		}
		return
	}
	s.Levels[0] = append(s.Levels[0], v)
	if len(s.Levels[0]) > s.capacity(0) {
		s.compact(0)
	}
}

// level0Factor is how many times Cap level 0 holds before it is compacted.
// Compacting a level merges half of it into the sorted level above, and a
// merge of values from one distribution mispredicts about every other
// step: with level 0 four times as large, level 1 is empty when its values
// come (it is compacted at once), and the merges per value added fall from
// about 1.3 to 0.4. Level 0's compactions, the most numerous, are a quarter
// as many, so the rank error does not grow.
const level0Factor = 4

// capacity is the number of values level h holds before it is compacted.
func (s *Sample) capacity(h int) int {
	if h == 0 {
		return level0Factor * s.Cap
	}
	return s.Cap
}

// levelCap is the capacity level h is allocated with, so that it never
// grows: level 0 holds one value more than its capacity when it is
// compacted; a level above holds at most Cap values (values that would
// take it over are merged and compacted in one pass: carry).
func (s *Sample) levelCap(h int) int {
	if h == 0 {
		return s.capacity(0) + 2
	}
	return s.Cap + 2
}

// newLevel returns an empty buffer for level h, recycled from sketches
// released by recycle when one of the right size is there.
func (s *Sample) newLevel(h int) []float64 {
	pool := &levelPools[min(h, 1)]
	if b, ok := pool.Get().(*[]float64); ok && cap(*b) == s.levelCap(h) {
		return (*b)[:0]
	}
	return make([]float64, 0, s.levelCap(h))
}

// levelPools hold the level buffers (level 0's; the others') of sketches
// that were merged and dropped: the parts of a large window are sketched
// and merged one after another, and their buffers would otherwise all be
// garbage.
var levelPools [2]sync.Pool

// recycle hands s's level buffers to the next sketches; s must not be used
// afterwards.
func (s *Sample) recycle() {
	for h, lv := range s.Levels {
		if cap(lv) == s.levelCap(h) {
			levelPools[min(h, 1)].Put(&lv)
		}
	}
	s.Levels = nil
}

func (s *Sample) toSketch() {
	if cap(s.Exact) < s.levelCap(0) {
		grown := s.newLevel(0)[:len(s.Exact)]
		copy(grown, s.Exact)
		s.Exact = grown
	}
	s.Levels = [][]float64{s.Exact}
	s.Parity = []bool{false}
	s.sorted, s.sorted0 = nil, 0
	s.Exact = nil
	s.compactAll()
}

func (s *Sample) compactAll() {
	for h := 0; h < len(s.Levels); h++ {
		for len(s.Levels[h]) > s.capacity(h) {
			s.compact(h)
		}
	}
}

// compact halves level h into level h+1.
func (s *Sample) compact(h int) {
	if h+1 == len(s.Levels) {
		s.Levels = append(s.Levels, s.newLevel(h+1))
		s.Parity = append(s.Parity, false)
		s.setSorted(h+1, true)
	}
	lv := s.Levels[h]
	if !s.levelSorted(h) {
		sortFloats(lv)
	}
	var keep float64
	odd := len(lv)%2 == 1
	if odd {
		// leave one value behind so the kept weight is exact
		keep = lv[len(lv)-1]
		lv = lv[:len(lv)-1]
	}
	off := 0
	if s.Parity[h] {
		off = 1
	}
	s.Parity[h] = !s.Parity[h]
	s.push(h+1, lv, off, 2, nil)
	if cap(lv) > 2*s.levelCap(h) {
		// release the big buffer left by toSketch or a merge
		lv = s.newLevel(h)
	}
	s.Levels[h] = lv[:0]
	if odd {
		s.Levels[h] = append(s.Levels[h], keep)
	}
	s.setSorted(h, true) // at most one value left
}

// push adds in[off], in[off+step], … (ascending) to level h, and compacts
// level h if it then holds more than its capacity. When level h is
// ascending, the merge and that compaction are one pass (carry).
func (s *Sample) push(h int, in []float64, off, step int, scratch *[2][]float64) {
	m := 0
	if off < len(in) {
		m = (len(in) - off + step - 1) / step
	}
	up := s.Levels[h]
	switch {
	case !s.levelSorted(h):
		for i := off; i < len(in); i += step {
			up = append(up, in[i])
		}
		s.Levels[h] = up
		if len(up) > s.capacity(h) {
			s.compact(h)
		}
	case len(up)+m <= s.capacity(h):
		s.Levels[h] = mergeInto(up, in, off, step)
	default:
		s.carry(h, in, off, step, m, scratch)
	}
}

// carry merges the m values in[off], in[off+step], … into the ascending
// level h, which then holds more than its capacity, and compacts level h in
// the same pass: every other value of the merged sequence goes on up (into
// a scratch buffer, then pushed into level h+1), the last one stays when
// there is an odd number. The level is the same as after merging and then
// compacting, but the merged sequence is never stored: a level above 0 needs
// room for Cap values only (half the memory), and each value is read and
// written once less.
func (s *Sample) carry(h int, in []float64, off, step, m int, scratch *[2][]float64) {
	if scratch == nil {
		scratch = carryScratch.Get().(*[2][]float64)
		defer carryScratch.Put(scratch)
	}
	if h+1 == len(s.Levels) {
		s.Levels = append(s.Levels, s.newLevel(h+1))
		s.Parity = append(s.Parity, false)
		s.setSorted(h+1, true)
	}
	up := s.Levels[h]
	total := len(up) + m
	n := total &^ 1 // the values compacted
	o := 0
	if s.Parity[h] {
		o = 1
	}
	s.Parity[h] = !s.Parity[h]
	out := scratch[0]
	if cap(out) < n/2 {
		out = make([]float64, n/2, max(n/2, 2*s.Cap))
	}
	out = out[:n/2]
	i, j := 0, off
	for w := range out {
		// Two merged values at a time, the one at the parity's place
		// kept. On ties the level's value first, as mergeInto orders them.
		var a, b float64
		if i < len(up) && (j >= len(in) || up[i] <= in[j]) {
			a = up[i]
			i++
		} else {
			a = in[j]
			j += step
		}
		if i < len(up) && (j >= len(in) || up[i] <= in[j]) {
			b = up[i]
			i++
		} else {
			b = in[j]
			j += step
		}
		if o == 1 {
			a = b
		}
		out[w] = a
	}
	var last float64
	if total%2 == 1 {
		if i < len(up) {
			last = up[i]
		} else {
			last = in[j]
		}
	}
	s.Levels[h] = up[:0]
	if total%2 == 1 {
		s.Levels[h] = append(s.Levels[h], last)
	}
	s.setSorted(h, true)
	// out goes on up; a carry above writes into the other buffer.
	scratch[0], scratch[1] = scratch[1], out
	s.push(h+1, out, 0, 1, scratch)
}

// carryScratch holds the buffers of carry's compacted values.
var carryScratch = sync.Pool{New: func() any { return new([2][]float64) }}

// Merge adds the values of o to s.
func (s *Sample) Merge(o *Sample) {
	if o == nil || o.N == 0 {
		return
	}
	s.N += o.N
	if s.Levels == nil && o.Levels == nil && len(s.Exact)+len(o.Exact) <= s.Limit {
		s.Exact = append(s.Exact, o.Exact...)
		return
	}
	if s.Levels == nil {
		s.toSketch()
	}
	other := o.Levels
	if o.Levels == nil {
		other = [][]float64{o.Exact}
	}
	// Level 0 goes last: merged into a sorted level 0 that it would take
	// over its capacity, it is merged and compacted in one pass (carry),
	// as compactAll would have compacted it first, without a level 0 grown
	// to twice its size.
	carry0 := len(other[0]) > 0 && s.levelSorted(0) && o.levelSorted(0) &&
		len(s.Levels[0])+len(other[0]) > s.capacity(0)
	for h, lv := range other {
		if h == 0 && carry0 {
			continue
		}
		for h >= len(s.Levels) {
			s.Levels = append(s.Levels, s.newLevel(len(s.Levels)))
			s.Parity = append(s.Parity, false)
		}
		if need := len(s.Levels[h]) + len(lv); need > cap(s.Levels[h]) {
			// Room for both, and for what compactions later push into
			// the level (a buffer of the exact size would be grown again
			// at every push).
			grown := make([]float64, len(s.Levels[h]), max(need, s.levelCap(h)))
			copy(grown, s.Levels[h])
			s.Levels[h] = grown
		}
		// Levels above 0 of both sides are usually ascending (compactions
		// keep them so; a decoded sketch is checked), and so is level 0 of
		// a part's profile (sortLevel0): merged in one pass, they stay
		// ascending, and compacting them sorts nothing. The values of each
		// level are the same as concatenating them, so the sketch is too.
		// (Level 0 is not scanned: it is rarely sorted unless known to be.)
		if (len(s.Levels[h]) == 0 || s.levelSorted(h) || h > 0 && sort.Float64sAreSorted(s.Levels[h])) &&
			(o.levelSorted(h) || h > 0 && sort.Float64sAreSorted(lv)) {
			s.Levels[h] = mergeInto(s.Levels[h], lv, 0, 1)
			s.setSorted(h, true)
			continue
		}
		s.Levels[h] = append(s.Levels[h], lv...)
		s.setSorted(h, false)
	}
	if carry0 {
		s.carry(0, other[0], 0, 1, len(other[0]), nil)
	}
	s.compactAll()
}

// sortLevel0 sorts a sketch's level 0, so that merging it into another
// sketch takes one pass and no sort: the parts of a window are profiled
// concurrently but merged one after another, so their sorting belongs with
// the parts.
func (s *Sample) sortLevel0() {
	if len(s.Levels) == 0 || s.levelSorted(0) {
		return
	}
	sortFloats(s.Levels[0])
	s.setSorted(0, true)
}

// mergeInto merges lv[off], lv[off+step], … (ascending) into up
// (ascending) and returns it: from the back, in place, up grown at its end.
func mergeInto(up, lv []float64, off, step int) []float64 {
	if off >= len(lv) {
		return up
	}
	m := (len(lv) - off + step - 1) / step
	old := len(up)
	up = slices.Grow(up, m)[:old+m]
	i, j := old-1, off+step*(m-1)
	for k := old + m - 1; j >= off; k-- {
		if i >= 0 && up[i] > lv[j] {
			up[k] = up[i]
			i--
		} else {
			up[k] = lv[j]
			j -= step
		}
	}
	return up
}

// Sorted returns the values in ascending order with their weights (nil when
// exact, meaning weight 1 each). An exact sample is sorted in place and its
// own slice returned: treat it as read-only.
func (s *Sample) Sorted() (values, weights []float64) {
	if s.Levels == nil {
		if s.sortedLen != len(s.Exact) || len(s.Exact) == 0 {
			if !sort.Float64sAreSorted(s.Exact) {
				sortFloats(s.Exact)
			}
			s.sortedLen = len(s.Exact)
		}
		return s.Exact, nil
	}
	if s.sortedPoints != nil && s.sortedPointsN == s.N {
		// one call per drift method and statistic: sort once
		return s.sortedPoints[0], s.sortedPoints[1]
	}
	total := 0
	for _, lv := range s.Levels {
		total += len(lv)
	}
	values, weights = s.mergeLevels(total)
	s.sortedPoints, s.sortedPointsN = &[2][]float64{values, weights}, s.N
	return values, weights
}

// mergeLevels returns the sketch's values (total of them) in ascending
// order with their weights (2^h for level h). Each level is ascending or
// copied and sorted (level 0, and levels of a decoded sketch that are not
// ascending), and the levels are merged in pairs, the pairs' runs in pairs
// and so on: each value moves about log2(levels) times. Sorting the points
// whole took 3–5× as long. Ties may end in any order: the statistics take
// equal values together.
func (s *Sample) mergeLevels(total int) (values, weights []float64) {
	type run struct{ v, w []float64 }
	runs := make([]run, 0, len(s.Levels))
	// Two buffers of values and weights: the result, and a recycled one
	// (memory touched for the first time costs more than the merging: on
	// this VM about 1.5 ms of system time a MB). Each round of merges
	// reads one and writes the other, so the first runs go where the last
	// round does not write.
	levels := 0
	for _, lv := range s.Levels {
		if len(lv) > 0 {
			levels++
		}
	}
	result := make([]float64, 2*total)
	sp := mergeScratch.Get().(*[]float64)
	defer mergeScratch.Put(sp)
	if cap(*sp) < 2*total {
		*sp = make([]float64, 2*total)
	}
	buf, other := result, (*sp)[:2*total]
	if bits.Len(uint(max(levels-1, 0)))%2 == 1 { // the rounds of merges
		buf, other = other, buf
	}
	off := 0
	for h, lv := range s.Levels {
		if len(lv) == 0 {
			continue
		}
		v, w := buf[off:off+len(lv)], buf[total+off:total+off+len(lv)]
		copy(v, lv)
		if !s.levelSorted(h) && (h == 0 || !sort.Float64sAreSorted(v)) {
			sortFloats(v) // the copy: level 0 in place would lose which values the moments have yet to take in
		}
		wt := float64(int64(1) << h)
		for i := range w {
			w[i] = wt
		}
		runs = append(runs, run{v, w})
		off += len(lv)
	}
	// Runs lie side by side in buf (values) and buf[total:] (weights);
	// each round merges neighbours into the other buffer.
	for len(runs) > 1 {
		next := runs[:0]
		off := 0
		for i := 0; i < len(runs); i += 2 {
			a := runs[i]
			if i+1 == len(runs) {
				v, w := other[off:off+len(a.v)], other[total+off:total+off+len(a.v)]
				copy(v, a.v)
				copy(w, a.w)
				next = append(next, run{v, w})
				off += len(a.v)
				continue
			}
			b := runs[i+1]
			n := len(a.v) + len(b.v)
			v, w := other[off:off+n], other[total+off:total+off+n]
			mergeWeighted(v, w, a.v, a.w, b.v, b.w)
			next = append(next, run{v, w})
			off += n
		}
		runs = next
		buf, other = other, buf
	}
	if len(runs) == 0 {
		return result[:0], result[total:total]
	}
	values, weights = runs[0].v, runs[0].w
	if &values[0] != &result[0] { // cannot happen: the rounds were counted
		copy(result, values)
		copy(result[total:], weights)
		values, weights = result[:total], result[total:]
	}
	return values, weights
}

// mergeScratch recycles mergeLevels' second buffer.
var mergeScratch = sync.Pool{New: func() any { return new([]float64) }}

// mergeWeighted merges the ascending a and b, with their weights, into v
// and w (len(a)+len(b) each).
func mergeWeighted(v, w, a, wa, b, wb []float64) {
	i, j := 0, 0
	for k := range v {
		if j >= len(b) || (i < len(a) && a[i] <= b[j]) {
			v[k], w[k] = a[i], wa[i]
			i++
		} else {
			v[k], w[k] = b[j], wb[j]
			j++
		}
	}
}
