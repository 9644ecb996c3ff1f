package analysis

import (
	"math"
	"math/bits"
	"sort"
	"sync"
	"unsafe"
)

// sortFloats sorts x ascending (no NaNs) with an LSD radix sort on the IEEE
// bits: 8 passes of 8 bits, skipping digit positions where all keys agree.
// Small inputs use sort.Float64s. Sorting dominates the drift tests; 8-bit
// digits keep the 256 scatter targets and the uint32 histograms in L1, which
// on the machines we measured beats 11-bit digits (fewer passes, but 2048
// scatter streams) by about 1.5×.
func sortFloats(x []float64) {
	n := len(x)
	if n < 2048 || n >= 1<<32 {
		sort.Float64s(x)
		return
	}
	if sortDecimals(x) {
		return
	}
	// Work on the bits in place: flip so that unsigned order is float order
	// (negatives: all bits; positives: the sign bit). Digits of 11 bits:
	// six scatter passes over the 64 bits instead of eight bytes (2048
	// counters per digit still fit in L1 with the keys streaming past).
	keys := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(x))), n)
	const width, digits = 11, 6
	const mask = 1<<width - 1
	var counts [digits][1 << width]uint32
	for i, k := range keys {
		k ^= uint64(int64(k)>>63) | 1<<63
		keys[i] = k
		counts[0][k&mask]++
		counts[1][(k>>width)&mask]++
		counts[2][(k>>(2*width))&mask]++
		counts[3][(k>>(3*width))&mask]++
		counts[4][(k>>(4*width))&mask]++
		counts[5][k>>(5*width)]++
	}
	bufp := radixBuffers.Get().(*[]uint64)
	if cap(*bufp) < n {
		*bufp = make([]uint64, n)
	}
	src, dst := keys, (*bufp)[:n]
	for p := range digits {
		c := &counts[p]
		shift := uint(width*p) & 63 // < 64: no fix-up for larger shifts in the loop
		if int(c[(src[0]>>shift)&mask]) == n {
			continue // every key has the same digit here
		}
		var sum uint32
		for i := range c {
			c[i], sum = sum, sum+c[i]
		}
		for _, k := range src {
			d := (k >> shift) & mask
			dst[c[d]] = k
			c[d]++
		}
		src, dst = dst, src
	}
	// Undo the flip, into x (keys aliases x).
	for i, k := range src {
		keys[i] = k ^ (^uint64(int64(k)>>63) | 1<<63)
	}
	radixBuffers.Put(bufp)
}

// radixBuffers recycles the scatter buffers: drift tests sort one column per
// goroutine, and fresh 1.6 MB buffers would each be paged in anew.
var radixBuffers = sync.Pool{New: func() any { return new([]uint64) }}

// sortDecimals sorts x if its values are decimals with a common number of
// places k ≤ 9 (what CSV writers and "%.6f" produce) whose integers
// m = round(x·10^k) span less than 2^32, and reports whether it did. Sorting
// the integers takes as many radix passes as their span needs 12-bit digits
// (two for six-place values of order one) instead of the six of the IEEE
// bits. Each key carries its value's index below the integer: the sorted
// keys gather the original values, so no value is ever recomputed (no
// division, and -0 stays -0), and the result is checked to ascend. Two
// different values with the same integer (more places than k) fail the
// check, and x is then left as it was, for the caller's IEEE sort.
func sortDecimals(x []float64) bool {
	k := 0
	for _, v := range x[:64] {
		p := decimalPlaces(v)
		if p < 0 {
			return false
		}
		k = max(k, p)
	}
	scale := pow10[k]
	n := len(x)
	idxBits := uint(bits.Len(uint(n - 1)))
	bufp := radixBuffers.Get().(*[]uint64)
	defer radixBuffers.Put(bufp)
	if cap(*bufp) < 2*n {
		*bufp = make([]uint64, 2*n)
	}
	keys, tmp := (*bufp)[:n], (*bufp)[n:2*n]
	// A first pass keeps every integer (as int64 bits) and their range.
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i, v := range x {
		f := math.RoundToEven(v * scale)
		if !(math.Abs(f) < 1<<53) { // also NaN
			return false
		}
		m := int64(f)
		keys[i] = uint64(m)
		lo, hi = min(lo, m), max(hi, m)
	}
	spanBits := uint(bits.Len64(uint64(hi - lo)))
	if spanBits > 32 || spanBits+idxBits > 64 {
		return false
	}
	// Digits of at most 12 bits (4096 counters stay in L1), as few as the
	// span needs, of equal width.
	passes := (spanBits + 11) / 12
	width := uint(0)
	if passes > 0 {
		width = (spanBits + passes - 1) / passes
	}
	mask := uint64(1)<<width - 1
	cnt := radixCounts.Get().(*[3][1 << 12]uint32)
	defer radixCounts.Put(cnt)
	for p := range passes {
		clear(cnt[p][:mask+1])
	}
	c0, c1, c2 := &cnt[0], &cnt[1], &cnt[2]
	// Shift counts masked below 64 (s2 exceeds it only when unused): the
	// loops then need no fix-up for larger shifts.
	i0, s1, s2 := idxBits&63, (idxBits+width)&63, (idxBits+2*width)&63
	switch {
	case passes == 3:
		for i, m := range keys {
			key := (m-uint64(lo))<<idxBits | uint64(i)
			keys[i] = key
			c0[(key>>i0)&mask]++
			c1[(key>>s1)&mask]++
			c2[(key>>s2)&mask]++
		}
	default:
		for i, m := range keys {
			key := (m-uint64(lo))<<idxBits | uint64(i)
			keys[i] = key
			c0[(key>>i0)&mask]++
			c1[(key>>s1)&mask]++
		}
	}
	src, dst := keys, tmp
	for p := range passes {
		c := cnt[p][:mask+1]
		shift := (idxBits + width*p) & 63
		var sum uint32
		for i := range c {
			c[i], sum = sum, sum+c[i]
		}
		for _, key := range src {
			d := (key >> shift) & mask
			dst[c[d]] = key
			c[d]++
		}
		src, dst = dst, src
	}
	// Gather the values in key order into the free buffer, check that they
	// ascend, and only then write them over x.
	out := unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(dst))), n)
	idxMask := uint64(1)<<idxBits - 1
	prev := math.Inf(-1)
	descends := false
	for i, key := range src {
		v := x[key&idxMask]
		descends = descends || v < prev
		out[i], prev = v, v
	}
	if descends {
		return false
	}
	copy(x, out)
	return true
}

var radixCounts = sync.Pool{New: func() any { return new([3][1 << 12]uint32) }}

// decimalPlaces is the least k ≤ 9 such that v is the double nearest to an
// integer over 10^k, or -1.
func decimalPlaces(v float64) int {
	for k := 0; k <= 9; k++ {
		if m := math.RoundToEven(v * pow10[k]); m/pow10[k] == v && math.Abs(m) < 1<<53 {
			return k
		}
	}
	return -1
}
