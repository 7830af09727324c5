//go:build !linux

package main

import "os"

// maxRSS is 0 where ru_maxrss is not in KiB or not available.
func maxRSS(*os.ProcessState) int64 { return 0 }
