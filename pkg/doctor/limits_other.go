//go:build !unix

package doctor

// openFileLimit is not checked on this platform.
func openFileLimit() (soft, hard uint64, ok bool) { return 0, 0, false }
