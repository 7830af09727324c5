//go:build unix

package doctor

import "syscall"

// openFileLimit returns the soft and hard RLIMIT_NOFILE.
func openFileLimit() (soft, hard uint64, ok bool) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, 0, false
	}
	return uint64(l.Cur), uint64(l.Max), true
}
