package signal

import (
	"bufio"
	"net"
	"syscall"
)

// idleWait parks a connection's reader between messages on its socket's
// readiness, from the top of readLoop, instead of deep inside
// coder/websocket's frame reader (about twenty frames down, through the
// bufio and net.Conn reads). Parked that shallow, an idle client's reader
// uses a few hundred bytes of stack, so the garbage collector shrinks the
// stack that handling its join grew (8 KiB) back towards the 2 KiB minimum;
// parked deep, it could not (the runtime halves a stack only when less than
// a quarter of it is in use). That is most of an idle client's memory.
//
// The wait only looks: it peeks at the socket without reading, and the read
// that follows is coder/websocket's, unchanged. It is skipped whenever bytes
// may be waiting where the peek cannot see them: in the read buffer
// (frames that came in with the previous message), in a TLS record layer
// (TLS connections never park this way), or in bytes sent before the
// upgrade completed (hijacked.br is nil then).
type idleWait struct {
	rc    syscall.RawConn
	br    *bufio.Reader // coder/websocket's read buffer for this connection
	ready func(fd uintptr) bool
	woken bool // the socket has signalled readiness since the peek
}

// newIdleWait returns the idleWait for a connection hijacked as raw with
// read buffer br, or nil when the connection cannot park this way.
func newIdleWait(raw net.Conn, br *bufio.Reader) *idleWait {
	if br == nil || !canPeek {
		return nil
	}
	tc, ok := raw.(*net.TCPConn) // not a *tls.Conn: it holds decrypted bytes the socket does not show
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &idleWait{rc: rc, br: br}
	w.ready = w.readable // once: a method value made per wait would be allocated per wait
	return w
}

// readable is the syscall.RawConn.Read callback. It peeks once; when the
// peek finds nothing, RawConn.Read waits for the socket to become readable
// and calls it again, and that wake-up is enough: no second peek, so a
// wait costs the same two system calls as the read it replaces (one that
// finds nothing, one that reads). A spurious wake-up only means that the
// read that follows waits inside coder/websocket, as before.
func (w *idleWait) readable(fd uintptr) bool {
	if w.woken {
		return true
	}
	w.woken = true
	return peekReady(fd)
}

// waitReadable returns once the client's socket has bytes to read (or
// reading it would fail), or at once when bytes may already be buffered or
// a close handshake may be reading the connection. Runs in readLoop only.
func (c *conn) waitReadable() {
	w := c.park
	if w == nil {
		return
	}
	// closeWith sets closing under c.mu before coder/websocket's close
	// handshake reads br from another goroutine: checking it under c.mu
	// orders this look at br before that read, or skips the look.
	c.mu.Lock()
	empty := !c.closing && w.br.Buffered() == 0
	c.mu.Unlock()
	if !empty {
		return
	}
	// An error (the connection was closed or cut) is met again, and
	// handled, by the read that follows.
	w.woken = false
	_ = w.rc.Read(w.ready)
}
