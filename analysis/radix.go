package analysis

import (
	"math"
	"math/bits"
	"sort"
	"sync"
	"unsafe"
)

// sortFloats sorts x ascending (no NaNs): sort.Float64s below 2048 values,
// else a radix sort, of the decimals' integers when they are decimals
// (sortDecimals), else of the IEEE bits (sortBits). Sorting dominates the
// drift tests and the sketches' compactions.
func sortFloats(x []float64) {
	n := len(x)
	if n < 2048 || n >= 1<<32 {
		sort.Float64s(x)
		return
	}
	if sortDecimals(x) {
		return
	}
	sortBits(x)
}

// sortBits sorts x (2048 to 2^32 values) by an LSD radix sort of its IEEE
// bits, flipped so that unsigned order is float order (negatives: all bits;
// positives: the sign bit), in place, and of the top 36 bits only: three
// passes of 12-bit digits (4096 counters stay in L1), skipping digits on
// which every key agrees. Keys that agree on those bits (the sign, the
// exponent and 24 bits of mantissa: values within 2^-24 of each other) are
// then in their input order, and one pass moves each back past the greater
// ones (insertion): one move per such pair, 70 in 200k normal values (3 in
// a sketch's level 0 of them), none in data of float32 precision. Data with more (long
// runs of values that close) gets the full sort instead once the moves
// pass n/4: six passes of 11 bits over all 64. Sorting all the bits always
// took twice the passes for the same order.
func sortBits(x []float64) {
	n := len(x)
	keys := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(x))), n)
	bufp := radixBuffers.Get().(*[]uint64)
	defer radixBuffers.Put(bufp)
	if cap(*bufp) < n {
		*bufp = make([]uint64, n)
	}
	tmp := (*bufp)[:n]
	counts := bitCounts.Get().(*[6][1 << 12]uint32)
	defer bitCounts.Put(counts)
	clear(counts[:3])
	const top = 1<<12 - 1
	for i, k := range keys {
		k ^= uint64(int64(k)>>63) | 1<<63
		keys[i] = k
		counts[0][(k>>28)&top]++
		counts[1][(k>>40)&top]++
		counts[2][k>>52]++
	}
	src, dst := radixPasses(keys, tmp, counts, []uint{28, 40, 52}, 12)
	if !insertAfterRadix(src, n/4) {
		// Every bit: 11-bit digits, six passes.
		clear(counts[:])
		const low = 1<<11 - 1
		for _, k := range src {
			counts[0][k&low]++
			counts[1][(k>>11)&low]++
			counts[2][(k>>22)&low]++
			counts[3][(k>>33)&low]++
			counts[4][(k>>44)&low]++
			counts[5][k>>55]++
		}
		src, _ = radixPasses(src, dst, counts, []uint{0, 11, 22, 33, 44, 55}, 11)
	}
	// Undo the flip, into x (keys aliases x).
	for i, k := range src {
		keys[i] = k ^ (^uint64(int64(k)>>63) | 1<<63)
	}
}

// bitCounts recycles sortBits' histograms (96 KB: on a goroutine's stack,
// they would grow every new one's).
var bitCounts = sync.Pool{New: func() any { return new([6][1 << 12]uint32) }}

// radixPasses sorts src by its digits of width bits at shifts (least
// significant first; counts[p] holds digit p's histogram), stably, each
// pass scattering into the other buffer, and returns the buffer holding
// the result and the other. A digit on which every key agrees is skipped.
func radixPasses(src, dst []uint64, counts *[6][1 << 12]uint32, shifts []uint, width uint) (sorted, other []uint64) {
	mask := uint64(1)<<width - 1
	n := len(src)
	for p, shift := range shifts {
		c := counts[p][:mask+1]
		shift &= 63 // < 64: no fix-up for larger shifts in the loop
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
	return src, dst
}

// insertAfterRadix finishes sorting k, sorted on its top bits, by moving
// each key back past the greater ones before it, and reports false (k a
// permutation of itself still) once that took more than budget moves.
func insertAfterRadix(k []uint64, budget int) bool {
	for i := 1; i < len(k); i++ {
		v := k[i]
		if v >= k[i-1] {
			continue
		}
		j := i
		for ; j > 0 && k[j-1] > v; j-- {
			k[j] = k[j-1]
		}
		k[j] = v
		if budget -= i - j; budget < 0 {
			return false
		}
	}
	return true
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
