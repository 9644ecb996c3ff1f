package analysis

import (
	"math/bits"
	"strings"
)

// shortShapes drives shortRow's vector parse of a cell of n = 8…15 bytes
// whose first '.' among its last eight is at j = 0…7 of them, signed or not
// (entry ((n-8)·8 + j)·2 + signed). The cell is loaded as its first eight
// bytes and its last eight side by side; bytes 0–15 of an entry pick its
// digits from those sixteen into the places of the 16-digit integer
// value·10^7 (0x80: none), bytes 16–31 are '0' at the places no digit
// fills and 0 elsewhere. A shape shortMantissa rejects fills every place
// with 0xff, which no digit check passes.
var shortShapes = func() (t [128][32]byte) {
	for n := 8; n <= 15; n++ {
		for j := range 8 {
			for signed := range 2 {
				e := &t[((n-8)*8+j)*2+signed]
				for i := range 16 {
					e[i], e[16+i] = 0x80, 0xff
				}
				dot := n - 8 + j
				frac, whole := n-dot-1, dot-signed
				if frac < 1 || dot > 7 || whole < 1 {
					continue
				}
				for i := range 16 {
					e[16+i] = '0'
				}
				// The digits, integer then decimals, end at place 16-(7-frac):
				// value·10^7 has whole+7 digits, the last 7-frac of them 0.
				first := 16 - (whole + 7)
				i := first
				for q := signed; q < n; q++ {
					if q == dot {
						continue
					}
					b := q // from the first eight bytes
					if q >= 8 {
						b = 8 + q - (n - 8) // from the last eight
					}
					e[i], e[16+i] = byte(b), 0
					i++
				}
			}
		}
	}
	return t
}()

// shortConsts are shortRow's vector constants: '0', 9, the byte pairs
// (10, 1), and the 16-bit pairs (100, 1) and (10000, 1) of the digit sums.
var shortConsts = [5][16]byte{
	{'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'},
	{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9},
	{10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1},
	{100, 0, 1, 0, 100, 0, 1, 0, 100, 0, 1, 0, 100, 0, 1, 0},
	{0x10, 0x27, 1, 0, 0x10, 0x27, 1, 0, 0x10, 0x27, 1, 0, 0x10, 0x27, 1, 0},
}

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

// fullShapes drives fullRow's vector parse of a cell of n = 16…32 bytes
// whose first '.' is at d = 0…7, signed or not (entry ((n-16)·8 + d)·2 +
// signed): float64 written with full precision. The cell is loaded as its
// first sixteen bytes (H) and its last sixteen (L); its digits, integer
// then decimals, are right-aligned in 32 places, the high sixteen and the
// low sixteen. Bytes 0–15 of an entry pick the high places' digits from H,
// 16–31 from L, 32–47 are '0' where no digit goes; 48–95 the same for the
// low places. Shapes fullDecimal rejects (decimals past 24, no integer
// digit) fill every place with 0xff.
var fullShapes = func() (t [272][96]byte) {
	for n := 16; n <= 32; n++ {
		for dot := range 8 {
			for signed := range 2 {
				e := &t[((n-16)*8+dot)*2+signed]
				for i := range e {
					e[i] = 0x80
				}
				whole, frac := dot-signed, n-dot-1
				if whole < 1 || frac > 24 {
					for i := range 16 {
						e[32+i], e[80+i] = 0xff, 0xff
					}
					continue
				}
				for i := range 16 {
					e[32+i], e[80+i] = '0', '0'
				}
				place := 32 - (whole + frac)
				for q := signed; q < n; q++ {
					if q == dot {
						continue
					}
					lane := 0 // high places
					p := place
					if p >= 16 {
						lane, p = 48, p-16
					}
					if q < 16 {
						e[lane+p] = byte(q)
					} else {
						e[lane+16+p] = byte(q - (n - 16))
					}
					e[lane+32+p] = 0
					place++
				}
			}
		}
	}
	return t
}()

// fullRowGo is fullRow cell by cell: fullDecimal's shape, read by
// strconv-exact integer arithmetic (the specification in tests, and the
// reader on platforms without the vector parse).
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
