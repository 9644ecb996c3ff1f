//go:build !amd64

package format

// sepBlocks sets bit i%64 of seps[i/64] when s[i] is comma or '\n', of
// lines[i/64] when it is '\n' (and clears the others), for len(seps) whole
// 64-byte blocks of s, and reports whether they hold a quote.
func sepBlocks(s string, comma byte, seps, lines []uint64) bool {
	return sepBlocksGo(s, comma, seps, lines)
}
