//go:build !amd64

package analysis

// shortRow reads the cells row[pos[k]] (k < 64) that shortMantissa reads, to
// the same integers, in out[k], and returns the mask of the k it read.
func shortRow(row []string, pos []int32, out *[shortRowMax]uint64) uint64 {
	return shortRowGo(row, pos, out)
}
