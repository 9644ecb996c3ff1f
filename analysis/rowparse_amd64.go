package analysis

import "golang.org/x/sys/cpu"

// shortRow reads the cells row[pos[k]] (k < 64) that shortMantissa reads, to
// the same integers, in out[k], and returns the mask of the k it read. On
// amd64 with SSE4.1 it reads them all in one call, each cell as a vector of
// its sixteen bytes: its digits shuffled into the places of value·10^7,
// checked, and summed pairwise (about a third of shortMantissa's
// instructions, with no branch on the cell's width).
func shortRow(row []string, pos []int32, out *[shortRowMax]uint64) uint64 {
	if len(pos) == 0 || len(row) == 0 {
		return 0
	}
	if !hasSSE41 {
		return shortRowGo(row, pos, out)
	}
	return shortRowSSE(&row[0], len(row), &pos[0], min(len(pos), shortRowMax), &out[0], &shortShapes, &shortConsts)
}

var hasSSE41 = cpu.X86.HasSSE41

//go:noescape
func shortRowSSE(row *string, rowLen int, pos *int32, n int, out *uint64, shapes *[128][32]byte, consts *[5][16]byte) (ok uint64)

// fullRow reads the cells row[pos[k]] (k < 64) shaped as fullDecimal reads
// them whose digits make an integer m below 10^19: m in out[k], and the
// number of decimals (plus 128 when negative) in out[64+k]; the cell is
// m·10^-decimals. It returns the mask of the k it read. On amd64 with
// SSE4.1, as shortRow: the digits of each cell shuffled into 32 places and
// summed pairwise.
func fullRow(row []string, pos []int32, out *[2 * shortRowMax]uint64) uint64 {
	if len(pos) == 0 || len(row) == 0 {
		return 0
	}
	if !hasSSE41 {
		return fullRowGo(row, pos, out)
	}
	return fullRowSSE(&row[0], len(row), &pos[0], min(len(pos), shortRowMax), &out[0], &fullShapes, &shortConsts)
}

//go:noescape
func fullRowSSE(row *string, rowLen int, pos *int32, n int, out *uint64, shapes *[272][96]byte, consts *[5][16]byte) (ok uint64)

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
