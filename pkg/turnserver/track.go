package turnserver

import (
	"io"
	"net"
	"sync"
	"time"
)

// tcpWriteTimeout bounds one write to a TURN client over TCP, so that a
// client that stops reading cannot stall the relay goroutine writing to it.
const tcpWriteTimeout = 5 * time.Second

// tracker knows every socket the server reads from, so that Close can close
// them all (pion/turn leaves accepted TCP connections open) and wait until
// every reader has seen its socket fail.
type tracker struct {
	mu      sync.Mutex
	closing bool
	live    map[*tracked]struct{}
	zero    chan struct{} // closed once closing and live is empty
}

func newTracker() *tracker {
	return &tracker{live: make(map[*tracked]struct{}), zero: make(chan struct{})}
}

// add starts tracking c; false once the tracker is closing.
func (t *tracker) add(c io.Closer, onClose func()) (*tracked, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return nil, false
	}
	tr := &tracked{t: t, c: c, onClose: onClose}
	t.live[tr] = struct{}{}
	return tr, true
}

func (t *tracker) remove(tr *tracked) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.live, tr)
	if t.closing && len(t.live) == 0 {
		close(t.zero)
	}
}

// shutdown refuses new sockets, closes every live one and waits, at most
// timeout, until each has been closed and its reader has returned.
func (t *tracker) shutdown(timeout time.Duration) bool {
	t.mu.Lock()
	if !t.closing {
		t.closing = true
		if len(t.live) == 0 {
			close(t.zero)
		}
	}
	live := make([]*tracked, 0, len(t.live))
	for tr := range t.live {
		live = append(live, tr)
	}
	t.mu.Unlock()
	for _, tr := range live {
		_ = tr.close()
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.zero:
		return true
	case <-timer.C:
		return false
	}
}

// tracked is one socket: done once it is closed, a read on it has failed
// (its reader loop has returned) and no read is in flight.
type tracked struct {
	t       *tracker
	c       io.Closer
	onClose func()

	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	reads   int
	readErr bool
	closed  bool
	done    bool
}

func (tr *tracked) beginRead() {
	tr.mu.Lock()
	tr.reads++
	tr.mu.Unlock()
}

func (tr *tracked) endRead(err error) {
	tr.mu.Lock()
	tr.reads--
	if err != nil {
		tr.readErr = true
	}
	done := tr.doneLocked()
	tr.mu.Unlock()
	if done {
		tr.t.remove(tr)
	}
}

func (tr *tracked) close() error {
	tr.closeOnce.Do(func() {
		tr.closeErr = tr.c.Close()
		if tr.onClose != nil {
			tr.onClose()
		}
		tr.mu.Lock()
		tr.closed = true
		done := tr.doneLocked()
		tr.mu.Unlock()
		if done {
			tr.t.remove(tr)
		}
	})
	return tr.closeErr
}

// doneLocked reports, once, that tr has just become done.
func (tr *tracked) doneLocked() bool {
	if tr.closed && tr.readErr && tr.reads == 0 && !tr.done {
		tr.done = true
		return true
	}
	return false
}

// trackedPacketConn is a tracked UDP socket the server listens on.
type trackedPacketConn struct {
	net.PacketConn
	tr *tracked
}

func (c *trackedPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.tr.beginRead()
	n, addr, err := c.PacketConn.ReadFrom(p)
	c.tr.endRead(err)
	return n, addr, err
}

func (c *trackedPacketConn) Close() error { return c.tr.close() }

// trackedListener is a tracked TCP listener; the connections it accepts are
// tracked too.
type trackedListener struct {
	net.Listener
	tr *tracked
}

func (l *trackedListener) Accept() (net.Conn, error) {
	l.tr.beginRead()
	conn, err := l.Listener.Accept()
	if err == nil {
		tr, ok := l.tr.t.add(conn, nil)
		if !ok {
			_ = conn.Close()
			conn, err = nil, ErrClosed
		} else {
			conn = &trackedConn{Conn: conn, tr: tr}
		}
	}
	l.tr.endRead(err)
	return conn, err
}

func (l *trackedListener) Close() error { return l.tr.close() }

// trackedConn is one TURN client's TCP connection.
type trackedConn struct {
	net.Conn
	tr *tracked
}

func (c *trackedConn) Read(p []byte) (int, error) {
	c.tr.beginRead()
	n, err := c.Conn.Read(p)
	c.tr.endRead(err)
	return n, err
}

func (c *trackedConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
	return c.Conn.Write(p)
}

func (c *trackedConn) Close() error { return c.tr.close() }
