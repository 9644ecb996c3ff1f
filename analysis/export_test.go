package analysis

// SetSplitPartBytes sets the size of the parts a Splitter is cut into, for
// tests of the parallel path on small inputs; it returns the restore.
func SetSplitPartBytes(n int) (restore func()) {
	old := splitPartBytes
	splitPartBytes = n
	return func() { splitPartBytes = old }
}
