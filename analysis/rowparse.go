package analysis

import (
	"math/bits"
	"strings"
)

// shortRowMax is how many cells of a row shortRow reads.
const shortRowMax = 64

// shortRowGo is shortRow cell by cell with shortMantissa, for platforms
// without the vector parse (and as its specification in tests).
func shortRowGo(row []string, pos []int32, out *[shortRowMax]uint64) uint64 {
	var ok uint64
	for k, p := range pos[:min(len(pos), shortRowMax)] {
		if uint(p) >= uint(len(row)) {
			continue
		}
		if u, good, _ := shortMantissa(row[p], false); good {
			out[k] = u
			ok |= 1 << k
		}
	}
	return ok
}

// fullRowGo is fullRow cell by cell, each cell's digits accumulated one by
// one (its specification in tests, and the reader on platforms without the
// vector parse).
func fullRowGo(row []string, pos []int32, out *[2 * shortRowMax]uint64) uint64 {
	var ok uint64
	for k, p := range pos[:min(len(pos), shortRowMax)] {
		if uint(p) >= uint(len(row)) {
			continue
		}
		if m, frac, neg, good := fullMantissa(row[p]); good {
			out[k], out[shortRowMax+k] = m, uint64(frac)|uint64(b2i(neg))<<7
			ok |= 1 << k
		}
	}
	return ok
}

// fullMantissa reads a cell of 16 to 32 bytes shaped [-+]?d{1,7}.d{8,24}
// whose digits, as one integer m, are below 10^19: the cell is m·10^-frac.
func fullMantissa(s string) (m uint64, frac int, neg, ok bool) {
	n := len(s)
	if n < 16 || n > 32 {
		return 0, 0, false, false
	}
	dot := strings.IndexByte(s[:8], '.')
	signed := 0
	if s[0] == '-' || s[0] == '+' {
		signed = 1
	}
	frac = n - dot - 1
	if dot < 0 || dot-signed < 1 || frac > 24 {
		return 0, 0, false, false
	}
	for i := signed; i < n; i++ {
		if i == dot {
			continue
		}
		d := uint64(s[i] - '0')
		if d > 9 {
			return 0, 0, false, false
		}
		hi, lo := bits.Mul64(m, 10)
		lo, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 || lo >= 1e19 {
			return 0, 0, false, false
		}
		m = lo
	}
	return m, frac, s[0] == '-', true
}
