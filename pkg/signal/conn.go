package signal

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// conn is one client connection. Its only permanent goroutine is readLoop;
// a writer goroutine runs only while frames are queued for the client.
type conn struct {
	s       *Server
	ws      *websocket.Conn
	ip      string
	claims  *Claims // from the upgrade request, when Auth is on
	limiter *rate.Limiter

	// Guarded by s.mu.
	id         string
	room       *room
	resume     [32]byte
	nextPing   time.Time
	violations int // only touched by readLoop

	mu      sync.Mutex // guards the fields below
	queue   [][]byte
	writing bool
	dead    bool
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
		typ, b, err := c.ws.Read(context.Background())
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				c.s.m.rejected.WithLabelValues(CodeTooBig).Inc()
				c.s.m.dropped.WithLabelValues(CodeTooBig).Inc()
			}
			return
		}
		c.s.m.bytesIn.Add(float64(len(b)))
		if !c.limiter.Allow() {
			c.violations++
			if c.violations >= c.s.opts.MaxViolations {
				c.s.m.dropped.WithLabelValues(CodeRateLimited).Inc()
				_ = c.ws.Close(ClosePolicyViolation, "rate limit exceeded")
				return
			}
			c.sendError(CodeRateLimited, "slow down")
			continue
		}
		c.violations = 0
		if typ != websocket.MessageText {
			c.sendError(CodeBadFrame, "binary frames are not supported")
			continue
		}
		c.s.handle(c, b)
	}
}

// cleanup runs once when readLoop ends.
func (c *conn) cleanup() {
	c.mu.Lock()
	c.dead = true
	c.queue = nil
	c.mu.Unlock()
	_ = c.ws.CloseNow()
	s := c.s
	s.mu.Lock()
	delete(s.conns, c)
	s.releaseIPLocked(c.ip)
	left := s.leaveLocked(c)
	s.mu.Unlock()
	s.m.conns.Dec()
	left.notify()
}

// send queues b for the client. It never blocks: a client whose queue is
// full is dropped.
func (c *conn) send(b []byte) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.s.opts.SendQueue {
		c.dead = true
		c.queue = nil
		c.mu.Unlock()
		c.s.m.dropped.WithLabelValues("send_queue_full").Inc()
		c.s.log.Info("dropping slow client", "peer", c.id, "remote", c.ip)
		_ = c.ws.CloseNow()
		return
	}
	c.queue = append(c.queue, b)
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		c.s.wg.Add(1)
		go c.writeLoop()
	}
}

// writeLoop drains the queue and exits when it is empty.
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.dead {
			c.queue = nil
			c.writing = false
			c.mu.Unlock()
			return
		}
		b := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), c.s.opts.WriteTimeout)
		err := c.ws.Write(ctx, websocket.MessageText, b)
		cancel()
		if err != nil {
			c.mu.Lock()
			c.dead = true
			c.queue = nil
			c.writing = false
			c.mu.Unlock()
			if ctx.Err() != nil {
				c.s.m.dropped.WithLabelValues("write_timeout").Inc()
			}
			_ = c.ws.CloseNow()
			return
		}
		c.s.m.bytesOut.Add(float64(len(b)))
	}
}

// sendError queues an error frame for the client.
func (c *conn) sendError(code, msg string) {
	c.s.m.rejected.WithLabelValues(code).Inc()
	b, err := EncodeFrame(Frame{Type: TypeError, Code: code, Error: msg})
	if err == nil {
		c.send(b)
	}
}

// sendFrame encodes f and queues it.
func (c *conn) sendFrame(f Frame) {
	b, err := EncodeFrame(f)
	if err != nil {
		c.s.log.Error("encode frame", "type", f.Type, "err", err)
		return
	}
	c.send(b)
}

// closeHandshakeTimeout bounds how long the server waits for a client to
// answer its close frame before it cuts the TCP connection.
const closeHandshakeTimeout = time.Second

// closeWith starts a close handshake with code in a goroutine the Server
// waits for; the reader ends when it completes.
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		t := time.AfterFunc(closeHandshakeTimeout, func() { _ = c.ws.CloseNow() })
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
