package analysis

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
