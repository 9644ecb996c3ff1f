//go:build !amd64

package analysis

// shortRow reads the cells row[pos[k]] (k < 64) that shortMantissa reads, to
// the same integers, in out[k], and returns the mask of the k it read.
func shortRow(row []string, pos []int32, out *[shortRowMax]uint64) uint64 {
	return shortRowGo(row, pos, out)
}

// fullRow reads the cells row[pos[k]] (k < 64) shaped as fullDecimal reads
// them whose digits make an integer m below 10^19: m in out[k], and the
// number of decimals (plus 128 when negative) in out[64+k].
func fullRow(row []string, pos []int32, out *[2 * shortRowMax]uint64) uint64 {
	return fullRowGo(row, pos, out)
}
