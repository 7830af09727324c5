package main

import (
	"os"
	"syscall"
)

// maxRSS is an ended process's peak resident set size in KiB (ru_maxrss), 0 if unknown.
func maxRSS(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}
