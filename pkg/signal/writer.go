package signal

import (
	"context"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// writerLinger is how long a writer goroutine waits for the next frame
// after its queue runs dry: it exits once a whole writerLinger window has
// passed with nothing to write, so 1–2 × writerLinger after the last frame.
// A busy connection keeps one writer instead of starting a goroutine per
// frame; an idle one has none.
const writerLinger = 5 * time.Millisecond

// send queues b for the client and reports whether the bytes waiting for
// it are now above SendQueueBytes: the caller, which runs in the reader of
// the connection that caused b, then waits for them to drain (waitDrained)
// before reading its next frame, so a member who sends faster than another
// reads is slowed down instead of the reader being cut. send itself never
// blocks; it drops the client only when its queue would exceed
// opts.queueLimit, which readers that wait cannot reach. b may be shared
// with other connections and must not change.
func (c *conn) send(b []byte) (full bool) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return false
	}
	if c.queued+len(b) > c.s.opts.queueLimit() {
		c.setDeadLocked()
		c.mu.Unlock()
		c.s.m.dropped.WithLabelValues("send_queue_full").Inc()
		c.s.log.Info("dropping slow client", "peer", c.id, "remote", c.ip)
		_ = c.ws.CloseNow()
		return false
	}
	c.queue = append(c.queue, b)
	c.queued += len(b)
	full = c.queued > c.s.opts.SendQueueBytes
	if c.writing {
		c.wakeWriterLocked()
		c.mu.Unlock()
		return full
	}
	c.writing = true
	c.wake = make(chan struct{}, 1)
	wake := c.wake
	c.mu.Unlock()
	c.s.wg.Add(1)
	go c.writeLoop(wake)
	return full
}

// setDeadLocked marks the connection dead: nothing more is queued or
// written, and whoever waits for its queue to drain stops waiting. c.mu
// must be held.
func (c *conn) setDeadLocked() {
	c.dead = true
	c.queue = nil
	c.queued = 0
	c.wakeWriterLocked()
	c.signalDrainedLocked()
}

// signalDrainedLocked wakes the waiters of waitDrained once the queue is
// down to the lowest level one of them waits for. c.mu must be held.
func (c *conn) signalDrainedLocked() {
	if c.drained != nil && (c.dead || c.queued <= c.drainAt) {
		close(c.drained)
		c.drained = nil
	}
}

// waitDrained waits until at most level bytes are waiting for c (queued or
// being written), c is dead, the server stops, or timeout (0: none) passes;
// it reports whether the level was reached (or c is dead).
func (c *conn) waitDrained(level int, timeout time.Duration) bool {
	var deadline <-chan time.Time
	for {
		c.mu.Lock()
		if c.dead || c.queued <= level {
			c.mu.Unlock()
			return true
		}
		if c.drained == nil {
			c.drained = make(chan struct{})
			c.drainAt = level
		} else {
			c.drainAt = min(c.drainAt, level)
		}
		ch := c.drained
		c.mu.Unlock()
		if timeout > 0 && deadline == nil {
			t := time.NewTimer(timeout)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		case <-c.s.stop:
			return false
		}
	}
}

// pushBack holds the reader of from, which has just queued frames for
// targets (send reported them full), until each target's queue is down to
// half of SendQueueBytes: shaping, like the relay byte budget, so that the
// sender's TCP connection slows it and nothing is lost. It returns early
// when a target dies (its write stalled for WriteTimeout, or it left).
func (s *Server) pushBack(full []*conn) {
	if len(full) == 0 {
		return
	}
	s.m.pushbacks.Inc()
	start := time.Now()
	for _, t := range full {
		t.waitDrained(s.opts.SendQueueBytes/2, 0)
	}
	s.m.pushbackSeconds.Add(time.Since(start).Seconds())
}

// wakeWriterLocked wakes the writer if it is waiting for a frame. c.mu must
// be held.
func (c *conn) wakeWriterLocked() {
	if !c.idle {
		return
	}
	c.idle = false
	select {
	case c.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// writeLoop drains the queue until the connection is dead or the queue has
// stayed empty for a whole writerLinger window. Timers are armed once per
// window, not per frame: on a busy connection a frame costs no timer work.
func (c *conn) writeLoop(wake <-chan struct{}) {
	defer c.s.wg.Done()
	wd := c.startWatchdog()
	defer wd.stop()
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	written, windowStart := 0, -1 // frames written, and when the open window began (-1: none open)
	expired := false
	done := 0 // bytes of the frame just written, not yet taken off c.queued
	for {
		c.mu.Lock()
		c.idle = false
		if done > 0 && !c.dead {
			c.queued -= done
			c.signalDrainedLocked()
		}
		done = 0
		if c.dead || len(c.queue) == 0 && expired {
			c.queue = nil
			c.writing = false
			c.mu.Unlock()
			return
		}
		if len(c.queue) == 0 {
			c.idle = true
			c.mu.Unlock()
			if windowStart < 0 {
				windowStart = written
				if linger == nil {
					linger = time.NewTimer(writerLinger)
				} else {
					linger.Reset(writerLinger)
				}
			}
			select {
			case <-wake:
			case <-linger.C:
				expired = written == windowStart
				windowStart = -1
			}
			continue
		}
		expired = false
		b := c.queue[0]
		n := copy(c.queue, c.queue[1:]) // keep the array for the next frames
		c.queue[n] = nil
		c.queue = c.queue[:n]
		c.mu.Unlock()
		c.writeStart.Store(c.s.clock())
		err := c.ws.Write(context.Background(), websocket.MessageText, b)
		c.writeStart.Store(0)
		if err != nil {
			c.mu.Lock()
			c.setDeadLocked()
			c.writing = false
			c.mu.Unlock()
			_ = c.ws.CloseNow()
			return
		}
		written++
		done = len(b)
		c.s.m.bytesOut.Add(float64(len(b)))
	}
}

// watchdog cuts a connection whose current write has lasted WriteTimeout.
// It looks every quarter of WriteTimeout, so a stuck write ends after 1 to
// 1.25 × WriteTimeout, and a write costs two atomic stores instead of a
// timer armed and stopped.
type watchdog struct {
	c      *conn
	period time.Duration

	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

func (c *conn) startWatchdog() *watchdog {
	w := &watchdog{c: c, period: max(c.s.opts.WriteTimeout/4, time.Millisecond)}
	w.mu.Lock()
	w.t = time.AfterFunc(w.period, w.check)
	w.mu.Unlock()
	return w
}

func (w *watchdog) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	c := w.c
	if start := c.writeStart.Load(); start != 0 && time.Duration(c.s.clock()-start) >= c.s.opts.WriteTimeout {
		// Counted before the cut: the members' peer-left may go out before the
		// failed write returns to the writer.
		c.s.m.dropped.WithLabelValues("write_timeout").Inc()
		_ = c.ws.CloseNow() // fails the write
		return
	}
	w.t.Reset(w.period)
}

// stop stops the watchdog; no check runs after it returns.
func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	w.t.Stop()
	w.mu.Unlock()
}
