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
	var counts [8][256]int
	for _, k := range keys {
		for p := 0; p < 8; p++ {
			counts[p][byte(k>>(8*p))]++
		}
	}
	for p := 0; p < 8; p++ {
		c := &counts[p]
		if c[byte(keys[0]>>(8*p))] == n {
			continue // every key has the same byte here
		}
		sum := 0
		for i := range c {
			c[i], sum = sum, sum+c[i]
		}
		shift := uint(8 * p)
		for _, k := range keys {
			d := byte(k >> shift)
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
