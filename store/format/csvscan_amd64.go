package format

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// sepBlocks sets bit i%64 of seps[i/64] when s[i] is comma or '\n', of
// lines[i/64] when it is '\n' (and clears the others), for len(seps) whole
// 64-byte blocks of s, and reports whether they hold a quote.
func sepBlocks(s string, comma byte, seps, lines []uint64) bool {
	if len(seps) == 0 {
		return false
	}
	if hasAVX2 {
		return sepBlocksAVX2(unsafe.StringData(s), len(seps), comma, &seps[0], &lines[0])
	}
	return sepBlocksGo(s, comma, seps, lines)
}

var hasAVX2 = cpu.X86.HasAVX2

//go:noescape
func sepBlocksAVX2(p *byte, blocks int, comma byte, seps, lines *uint64) (quoted bool)
