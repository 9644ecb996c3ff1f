package analysis

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
	"unsafe"
)

// This file holds the Eisel–Lemire conversion of a decimal mantissa and
// exponent to the nearest float64, for the 16–17 significant digits that
// pandas, numpy and most logging pipelines write (Python's repr): too many
// for Clinger's exact fast path, and 2–3× slower through strconv.ParseFloat,
// which does the same computation after a more general scan of the text.
//
// eiselLemire64 is Go's internal/strconv/atofeisel.go (Copyright 2020 The Go
// Authors, BSD-style licence), itself following
// https://nigeltao.github.io/blog/2020/eisel-lemire.html; the table is built
// as Go's pow10gen.go builds its pow10tab.go. It either returns the
// correctly rounded double or declines (ok false), and callers then ask
// strconv: no value is ever rounded differently from strconv.ParseFloat
// (TestParseNumberMatchesStrconv, FuzzParseDecimal).

// pow10Min and pow10Max bound the table: 10^e for e outside them is a
// subnormal, zero or infinite double, left to strconv.
const (
	pow10Min = -348
	pow10Max = 347
)

// pow10Tab[e-pow10Min] is 10^e scaled by a power of two into [2^127, 2^128)
// and rounded down, as {high, low} 64-bit halves.
var pow10Tab = func() (tab [pow10Max - pow10Min + 1][2]uint64) {
	ten := big.NewInt(10)
	mask := new(big.Int).SetUint64(math.MaxUint64)
	p := big.NewInt(1) // 10^|e|
	for e := 0; e <= max(pow10Max, -pow10Min); e++ {
		if e > 0 {
			p.Mul(p, ten)
		}
		set := func(e int, d *big.Int) {
			tab[e-pow10Min] = [2]uint64{new(big.Int).Rsh(d, 64).Uint64(), new(big.Int).And(d, mask).Uint64()}
		}
		if e <= pow10Max {
			// 10^e with its top bit moved to bit 127, truncated.
			d := new(big.Int).Set(p)
			if l := d.BitLen(); l > 128 {
				d.Rsh(d, uint(l-128))
			} else {
				d.Lsh(d, uint(128-l))
			}
			set(e, d)
		}
		if e > 0 && -e >= pow10Min {
			// floor(2^(127+L) / 10^e), L the bit length of 10^e, lies in
			// (2^127, 2^128): 10^e is never a power of two.
			d := new(big.Int).Lsh(big.NewInt(1), uint(127+p.BitLen()))
			d.Quo(d, p)
			set(-e, d)
		}
	}
	return tab
}()

// eiselLemire64 returns man·10^exp10 correctly rounded, or ok false when
// the 128-bit approximation cannot decide the rounding or the result is
// not a normal double.
func eiselLemire64(man uint64, exp10 int, neg bool) (f float64, ok bool) {
	if man == 0 {
		if neg {
			f = math.Float64frombits(1 << 63)
		}
		return f, true
	}
	if exp10 < pow10Min || exp10 > pow10Max {
		return 0, false
	}
	pow := &pow10Tab[exp10-pow10Min]
	// 10^e = pow/2^128 · 2^exp2, exp2 = 1 + floor(e·log2(10)).
	exp2 := 1 + (exp10*108853)>>15

	// Normalization.
	clz := bits.LeadingZeros64(man)
	man <<= uint(clz) & 63 // clz < 64: man is not 0
	retExp2 := uint64(exp2+63+1023) - uint64(clz)

	// Multiplication.
	xHi, xLo := bits.Mul64(man, pow[0])

	// Wider Approximation.
	if xHi&0x1FF == 0x1FF && xLo+man < man {
		yHi, yLo := bits.Mul64(man, pow[1])
		mergedHi, mergedLo := xHi, xLo+yHi
		if mergedLo < xLo {
			mergedHi++
		}
		if mergedHi&0x1FF == 0x1FF && mergedLo+1 == 0 && yLo+man < man {
			return 0, false
		}
		xHi, xLo = mergedHi, mergedLo
	}

	// Shifting to 54 Bits.
	msb := xHi >> 63
	retMantissa := xHi >> ((msb + 9) & 63)
	retExp2 -= 1 ^ msb

	// Half-way Ambiguity.
	if xLo == 0 && xHi&0x1FF == 0 && retMantissa&3 == 1 {
		return 0, false
	}

	// From 54 to 53 Bits.
	retMantissa += retMantissa & 1
	retMantissa >>= 1
	if retMantissa>>53 > 0 {
		retMantissa >>= 1
		retExp2++
	}
	// Zero or underflow: subnormal; 0x7FF or above: Inf/NaN.
	if retExp2-1 >= 0x7FF-1 {
		return 0, false
	}
	retBits := retExp2<<52 | retMantissa&(1<<52-1)
	if neg {
		retBits |= 1 << 63
	}
	return math.Float64frombits(retBits), true
}

// shortDecimal parses a cell of 8 to 15 bytes shaped [-+]?d{1,7}.d{1,7}
// (see shortMantissa).
func shortDecimal(s string) (float64, bool) {
	u, ok, _ := shortMantissa(s, false)
	return shortValue(u), ok
}

// shortValue is the value of a shortMantissa: the one correctly rounded
// division of its integer by 10^7, with its sign bit.
func shortValue(u uint64) float64 {
	const sign = 1 << 63
	return math.Float64frombits(math.Float64bits(float64(u&^sign)/1e7) | u&sign)
}

// shortMantissa reads a cell of 8 to 15 bytes shaped [-+]?d{1,7}.d{1,7}
// (six-decimal data: "-0.806033", "12.345678") without a branch on its
// digits or its sign: the integer digits are read from the cell's first
// eight bytes and the decimals from its last eight, at once each. In real
// columns the number of integer digits and the sign are as good as random
// from cell to cell, and the branches of a digit loop mispredicted about
// as long as the rest of the parse took. It reports false for any other
// shape. The cell is returned as a sign bit (1<<63 for '-') above the
// integer m = value·10^7, which is below 10^14 and so exact in a float64:
// m/10^7 rounded once is the value rounded once from the text, whatever
// the number of decimals (shortValue). Keeping the integer lets callers
// convert many cells in one loop, where the divisions overlap, rather than
// one per cell at the end of the parse's chain of dependent steps.
//
// A cell of at most eight digits (six decimals below 100: most features)
// is converted as one word of eight digits, the dot taken out of its last
// nine bytes; longer cells as two words, the integer digits and the
// decimals. Which applies is a branch on the data, mispredicted about as
// often as the lengths mix, where it costs more than the second word: so
// wide (a column that had longer cells) takes two words for every cell,
// and wider reports a cell longer than one word, to set wide with.
// BenchmarkShortMantissa: 11.1–11.8 → 9.1–9.5 ns a cell at scale 1; read
// one word where it could, a column mixing 2- and 3-digit magnitudes took
// about a fifth longer than as two words.
func shortMantissa(s string, wide bool) (u uint64, ok, wider bool) {
	n := len(s)
	if n < 8 || n > 15 {
		return 0, false, false
	}
	p := unsafe.StringData(s)
	head := binary.LittleEndian.Uint64(unsafe.Slice(p, 8))
	tail := binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(p), n-8)), 8))
	// The first '.' of the last eight bytes.
	dots := zeroByteMask(tail ^ 0x2e2e2e2e2e2e2e2e)
	j := bits.TrailingZeros64(dots) >> 3 // 8 when none
	frac := 7 - j                        // decimals after it
	dot := n - 8 + j
	sign, signed := signOf(s) // no branches on the sign either
	whole := dot - signed     // integer digits
	if frac < 1 || dot > 7 || whole < 1 {
		return 0, false, false
	}
	if !wide && whole+frac <= 8 {
		// The last nine bytes hold every digit and the dot: the bytes
		// before the dot move up one, the byte before the last eight (from
		// head: the cell has at most 15; when it has 8, a byte that the
		// '0's below cover) comes in at the bottom, and '0's replace the
		// bytes before the integer digits (the sign, say).
		below := uint64(1)<<(uint(8*(j+1))&63) - 1
		b9 := head >> (uint(8*(n-9)) & 63) & 0xff
		w := (tail<<8|b9)&below | tail&^below
		pad := uint64(1)<<(uint(8*(8-whole-frac))&63) - 1
		d, ok := eightDigits(w&^pad | 0x3030303030303030&pad)
		return sign | d*pow10u[7-frac], ok, false
	}
	// Integer digits: the bytes before the dot moved to the top, '0's below.
	// Every shift is of 8 to 56 bits (whole, frac and dot are 1 to 7): the
	// masks tell the compiler, which then adds no fix-up for shifts of 64
	// bits or more.
	keep := uint(8*(8-whole)) & 63
	intw := head<<(uint(8*(8-dot))&63)>>keep<<keep | 0x3030303030303030>>((64-keep)&63)
	keep = uint(8*(8-frac)) & 63
	fracw := tail>>keep<<keep | 0x3030303030303030>>((64-keep)&63)
	i, ok1 := eightDigits(intw)
	f, ok2 := eightDigits(fracw)
	if !ok1 || !ok2 {
		return 0, false, false
	}
	return sign | (i*1e7 + f*pow10u[7-frac]), true, whole+frac > 8
}

// signOf returns the sign bit of the non-empty number s (1<<63 for a
// leading '-') and the length of its sign (1 for '-' or '+'), without a
// branch: signs are as good as random in real data.
func signOf(s string) (sign uint64, length int) {
	if s[0] == '-' {
		sign = 1 << 63
	}
	length = int(sign >> 63)
	if s[0] == '+' {
		length = 1
	}
	return sign, length
}

// zeroByteMask sets the high bit of every zero byte of w.
func zeroByteMask(w uint64) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	return ^((w&low7 + low7) | w | low7)
}

// fullDecimal parses a cell of 16 to 32 bytes shaped [-+]?d{1,7}.d{8,24}
// with at most 19 significant digits: float64 written with full precision
// ("-1.3140602545896758", "0.00014335131006482094"), the shape of most real
// data. Like shortDecimal it has no branch on the cell's digits, sign or
// length: the integer digits come from the first eight bytes, and the
// decimals as three words of eight bytes (the first eight decimals, the
// last eight, and those between, masked to '0' where they overlap), so the
// mispredicted loop exits of a digit-by-digit scan (16 or 17 digits, one or
// two integer digits, a leading "0.0" or not: as good as random in a real
// column) are gone. The mantissa always goes through Eisel–Lemire: which of
// Clinger's cases applies would be one more branch on the data. It reports
// false for any other shape and when Eisel–Lemire declines.
func fullDecimal(s string) (float64, bool) {
	n := len(s)
	if n < 16 || n > 32 {
		return 0, false
	}
	p := unsafe.StringData(s)
	at := func(i int) uint64 {
		return binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(p), i)), 8))
	}
	head := at(0)
	dot := bits.TrailingZeros64(zeroByteMask(head^0x2e2e2e2e2e2e2e2e)) >> 3 // 8 when none
	sign, signed := signOf(s)
	whole := dot - signed // integer digits
	frac := n - dot - 1   // decimals: at least 8, as n ≥ 16 and dot ≤ 7
	if dot > 7 || whole < 1 || frac > 24 {
		return 0, false
	}
	const zeros = 0x3030303030303030
	// Integer digits: as in shortDecimal.
	keep := uint(8*(8-whole)) & 63
	intw := head<<(uint(8*(8-dot))&63)>>keep<<keep | zeros>>((64-keep)&63)
	// Decimals: the first eight (a), then r = frac-8 more: the last
	// min(r, 8) of the cell (c) and the max(r-8, 0) before those (b). A
	// shift by 64 bits clears a word in Go, which is what r = 0 and
	// r-8 ≤ 0 need.
	r := frac - 8
	a := at(dot + 1)
	cm := ^uint64(0) << uint(8*(8-min(r, 8)))
	bm := ^uint64(0) << uint(8*(16-max(r, 8)))
	c := at(n-8)&cm | zeros&^cm
	b := at(n-16)&bm | zeros&^bm
	iv, ok1 := eightDigits(intw)
	av, ok2 := eightDigits(a)
	bv, ok3 := eightDigits(b)
	cv, ok4 := eightDigits(c)
	// At most 19 significant digits, so that m is exact: leading zeros
	// (of a value below 1, "0.000143351310064820") do not count.
	zeros8 := bits.TrailingZeros64(a^zeros) >> 3 // '0's leading the decimals, 8 when all are
	if !(ok1 && ok2 && ok3 && ok4) || (whole+frac > 19 && (iv != 0 || frac-zeros8 > 19)) {
		return 0, false
	}
	m := iv*pow10u19[min(frac, 19)] + av*pow10u19[r] + bv*1e8 + cv // iv is 0 past 19
	return eiselLemire64(m, -frac, sign != 0)
}

// pow10u19[i] is 10^i, up to the largest power of ten below 2^64.
var pow10u19 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}
