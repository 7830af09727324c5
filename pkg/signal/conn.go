package signal

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// conn is one client connection. Its only permanent goroutine is readLoop;
// a writer goroutine (writer.go) runs only while frames are queued for the
// client, and writerLinger longer.
type conn struct {
	s       *Server
	ws      *websocket.Conn
	raw     net.Conn  // the hijacked TCP (or TLS) connection under ws, when known
	park    *idleWait // where readLoop waits between messages; nil: inside ws's read (idlewait.go)
	ip      string
	claims  *Claims // from the upgrade request, when Auth is on
	limiter *rate.Limiter
	relayL  *rate.Limiter // bytes of "relay" frames; made on first use
	mailL   *rate.Limiter // bytes of mail deposits; made on first use (mail.go)

	// Guarded by s.mu.
	id         string
	room       *room
	resume     [32]byte
	session    string // with a Cluster: this join's session (clusterjoin.go)
	joinRev    uint64 // with a Cluster: the room revision that admitted it
	mailJoin   uint64 // joins so far: a mail hand-over retry is for one of them (mail.go)
	nextPing   time.Time
	violations int // only touched by readLoop

	writeStart atomic.Int64 // Server.clock when the current write began, 0 between writes

	mu      sync.Mutex // guards the fields below
	queue   [][]byte
	queued  int           // bytes in queue plus the frame being written
	writing bool          // a writer goroutine is running
	idle    bool          // the writer is waiting on wake for a frame
	wake    chan struct{} // the running writer's, capacity 1
	drained chan struct{} // closed when queued ≤ drainAt or dead; nil when nobody waits
	drainAt int
	dead    bool
	closing bool // closeWith began a close handshake, which reads the connection
}

func newConn(s *Server, ws *websocket.Conn, ip string, claims *Claims) *conn {
	return &conn{
		s:        s,
		ws:       ws,
		ip:       ip,
		claims:   claims,
		limiter:  rate.NewLimiter(s.opts.Rate, s.opts.Burst),
		nextPing: time.Now().Add(s.opts.PingInterval),
	}
}

// readLoop reads frames until the connection ends, then removes the
// connection from its room and from the server.
func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer c.cleanup()
	for {
		c.waitReadable()
		typ, bp, err := c.readMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				c.s.m.rejected.WithLabelValues(CodeTooBig).Inc()
				c.s.m.dropped.WithLabelValues(CodeTooBig).Inc()
			}
			return
		}
		ok := c.handleMessage(typ, *bp)
		c.s.putBuf(bp)
		if !ok {
			return
		}
	}
}

// handleMessage applies the rate limit to one message and handles it. It
// reports false when the connection must end.
func (c *conn) handleMessage(typ websocket.MessageType, b []byte) bool {
	c.s.m.bytesIn.Add(float64(len(b)))
	text := typ == websocket.MessageText
	valid := text && utf8.Valid(b)
	var in inbound
	if valid {
		in = parseInbound(b)
	}
	if !c.allow(in.isRelay(), len(b)) {
		c.violations++
		if c.violations >= c.s.opts.MaxViolations {
			c.s.m.dropped.WithLabelValues(CodeRateLimited).Inc()
			// The rate_limited frames go out before the close frame.
			c.waitDrained(0, closeFlushTimeout)
			_ = c.ws.Close(ClosePolicyViolation, "rate limit exceeded")
			return false
		}
		c.sendError(CodeRateLimited, "slow down")
		return true
	}
	c.violations = 0
	switch {
	case !text:
		c.s.log.Debug("frame refused", "peer", c.id, "reason", "binary frame")
		c.sendError(CodeBadFrame, "binary frames are not supported")
	case !valid:
		// Relaying it would make every browser in the room close its
		// connection (RFC 6455 §8.1).
		c.s.log.Debug("frame refused", "peer", c.id, "reason", "invalid UTF-8")
		c.sendError(CodeInvalidUTF8, "text frame is not valid UTF-8")
	default:
		c.s.handle(c, &in)
	}
	return true
}

// allow charges a frame of n bytes to its budget, chosen by the frame's
// parsed top-level type: one token per frame for most frames (over budget:
// refused), bytes for relay frames. Relay frames are shaped, not policed:
// the reader waits until the budget allows the frame, so TCP back-pressure
// slows the sender and nothing is lost — refusing one sealed frame would
// break the sender's whole seal stream and make it resend everything.
func (c *conn) allow(relay bool, n int) bool {
	if !relay {
		return c.limiter.Allow()
	}
	if c.relayL == nil {
		c.relayL = rate.NewLimiter(c.s.opts.RelayRate, c.s.opts.RelayBurst)
	}
	c.s.m.fallback.Inc()
	r := c.relayL.ReserveN(time.Now(), n)
	if !r.OK() {
		return false // larger than the burst: cannot ever pass
	}
	if d := r.Delay(); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.s.stop:
			return false
		}
	}
	return true
}

// readMessage reads the next message into a buffer from the Server's pool;
// the caller gives it back with putBuf.
func (c *conn) readMessage() (websocket.MessageType, *[]byte, error) {
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	bp := c.s.getBuf()
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			*bp = b
			return typ, bp, nil
		}
		if err != nil {
			*bp = b
			c.s.putBuf(bp)
			return 0, nil, err
		}
	}
}

// Read buffers: a new one holds minReadBuf bytes; one that grew beyond
// maxPooledBuf is left to the garbage collector.
const (
	minReadBuf   = 1 << 10
	maxPooledBuf = 64 << 10
)

func (s *Server) getBuf() *[]byte {
	if bp, ok := s.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, minReadBuf)
	return &b
}

func (s *Server) putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledBuf {
		s.bufs.Put(bp)
	}
}

// cleanup runs once when readLoop ends.
func (c *conn) cleanup() {
	c.mu.Lock()
	c.setDeadLocked()
	c.mu.Unlock()
	_ = c.ws.CloseNow()
	s := c.s
	s.mu.Lock()
	delete(s.conns, c)
	s.releaseIPLocked(c.ip)
	left := s.leaveLocked(c)
	s.mu.Unlock()
	s.m.conns.Dec()
	s.left(left, nil)
}

// sendError queues an error frame for the client. Like sendFrame it runs
// in c's reader only.
func (c *conn) sendError(code, msg string) {
	c.s.m.rejected.WithLabelValues(code).Inc()
	b, err := EncodeFrame(Frame{Type: TypeError, Code: code, Error: msg})
	if err == nil {
		c.sendOwn(b)
	}
}

// sendFrame encodes f and queues it. It runs in c's reader only.
func (c *conn) sendFrame(f Frame) {
	b, err := EncodeFrame(f)
	if err != nil {
		c.s.log.Error("encode frame", "type", f.Type, "err", err)
		return
	}
	c.sendOwn(b)
}

// queueJoinedLocked encodes c's joined frame and queues it while s.mu is
// held, so that it goes before any room event queued after the room is
// unlocked. It returns whether c's queue is full: the caller holds c's
// reader back (pushBack) once s.mu is released.
func (c *conn) queueJoinedLocked(f Frame) (full bool) {
	b, err := EncodeFrame(f)
	if err != nil {
		c.s.log.Error("encode frame", "type", f.Type, "err", err)
		return false
	}
	return c.send(b)
}

// sendOwn queues b, an answer to c's own frame, and when c's queue is full
// holds c's reader until it drains (a mail hand-over, or a client that
// floods without reading its errors).
func (c *conn) sendOwn(b []byte) {
	if c.send(b) {
		c.s.pushBack([]*conn{c})
	}
}

// closeFlushTimeout bounds how long the server waits for the frames queued
// for a client to be written before it sends a close frame.
const closeFlushTimeout = time.Second

// closeHandshakeTimeout bounds how long the server waits for a client to
// answer its close frame before it cuts the TCP connection.
const closeHandshakeTimeout = time.Second

// closeWith starts a close handshake with code in a goroutine the Server
// waits for; the reader ends when it completes.
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		t := time.AfterFunc(closeHandshakeTimeout, c.cutNow)
		defer t.Stop()
		_ = c.ws.Close(code, reason)
	}()
}

// ping sends one ping and drops the connection if no pong comes in time.
func (c *conn) ping() {
	defer c.s.wg.Done()
	ctx, cancel := c.s.pingCtx()
	defer cancel()
	if err := c.ws.Ping(ctx); err != nil && ctx.Err() != nil {
		c.s.m.dropped.WithLabelValues("pong_timeout").Inc()
		_ = c.ws.CloseNow()
	}
}
