//go:build !linux

package analysis

// valueBlock returns n float64s in one allocation for the exact values of
// a profile's numeric columns.
func valueBlock(n int64) []float64 {
	if n <= 0 {
		return nil
	}
	return make([]float64, n)
}
