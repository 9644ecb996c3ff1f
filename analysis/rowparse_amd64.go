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
	return shortRowSSE(&row[0], len(row), &pos[0], min(len(pos), shortRowMax), &out[0])
}

var hasSSE41 = cpu.X86.HasSSE41

//go:noescape
func shortRowSSE(row *string, rowLen int, pos *int32, n int, out *uint64) (ok uint64)

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
	return fullRowSSE(&row[0], len(row), &pos[0], min(len(pos), shortRowMax), &out[0])
}

//go:noescape
func fullRowSSE(row *string, rowLen int, pos *int32, n int, out *uint64) (ok uint64)
