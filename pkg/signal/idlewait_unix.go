//go:build unix

package signal

import "syscall"

// canPeek reports whether peekReady works here.
const canPeek = true

// peekReady reports whether the socket fd has bytes to read, has reached
// EOF or has failed, without taking anything from it; false tells
// syscall.RawConn.Read to wait for the socket to become readable and ask
// again. Go's sockets are non-blocking, so the peek never blocks.
func peekReady(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default: // bytes, EOF (0, nil) or an error the read will report
			return true
		}
	}
}
