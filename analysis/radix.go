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
		shift := uint(width * p)
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
// places k ≤ 9 (what CSV writers and "%.6f" produce) whose integers m = x·10^k
// span less than 2^32, and reports whether it did. Sorting the integers takes
// as many radix passes as their span has bytes (3 for six-place values of
// order one) instead of the 8 of the IEEE bits. Each m is checked to give back
// exactly its value (m / 10^k), so the result is x sorted, bit for bit except
// that -0 comes back as 0.
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
	bufp := decimalBuffers.Get().(*[]uint32)
	defer decimalBuffers.Put(bufp)
	if cap(*bufp) < 2*n {
		*bufp = make([]uint32, 2*n)
	}
	// A first pass checks every value (x is untouched if one does not fit)
	// and keeps its integer in the buffer, seen as n int64s...
	ints := unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(*bufp))), n)
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i, v := range x {
		m := int64(math.RoundToEven(v * scale))
		if float64(m)/scale != v || m >= 1<<53 || m <= -1<<53 {
			return false
		}
		ints[i] = m
		lo, hi = min(lo, m), max(hi, m)
	}
	if uint64(hi-lo) >= 1<<32 {
		return false
	}
	// ...which then become 32-bit keys m − lo in its first half (key i
	// overwrites only int64s before i+1, already read): half the memory
	// traffic of the IEEE bits.
	keys, tmp := (*bufp)[:n], (*bufp)[n:2*n]
	// Digits: two of up to 12 bits when the span allows (two scatter passes
	// instead of three for six-place values of order one), else bytes.
	width := uint(8)
	if b := uint(bits.Len64(uint64(hi - lo))); b > 16 && b <= 24 {
		width = (b + 1) / 2
	}
	mask := uint32(1)<<width - 1
	passes := (bits.Len64(uint64(hi-lo)) + int(width) - 1) / int(width)
	var counts [4][4096]uint32
	for i, m := range ints {
		k := uint32(m - lo)
		keys[i] = k
		counts[0][k&mask]++
		counts[1][(k>>width)&mask]++
		counts[2][(k>>(2*width))&mask]++
		counts[3][(k>>(3*width))&mask]++
	}
	src, dst := keys, tmp
	for p := range passes {
		c := counts[p][:mask+1]
		shift := width * uint(p)
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
	for i, k := range src {
		x[i] = float64(int64(k)+lo) / scale
	}
	return true
}

var decimalBuffers = sync.Pool{New: func() any { return new([]uint32) }}

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
