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

// send queues b for the client. It never blocks: a client whose queue is
// full is dropped. b may be shared with other connections and must not
// change.
func (c *conn) send(b []byte) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.s.opts.SendQueue {
		c.dead = true
		c.queue = nil
		c.wakeWriterLocked()
		c.mu.Unlock()
		c.s.m.dropped.WithLabelValues("send_queue_full").Inc()
		c.s.log.Info("dropping slow client", "peer", c.id, "remote", c.ip)
		_ = c.ws.CloseNow()
		return
	}
	c.queue = append(c.queue, b)
	if c.writing {
		c.wakeWriterLocked()
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.wake = make(chan struct{}, 1)
	wake := c.wake
	c.mu.Unlock()
	c.s.wg.Add(1)
	go c.writeLoop(wake)
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
	for {
		c.mu.Lock()
		c.idle = false
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
			c.dead = true
			c.queue = nil
			c.writing = false
			c.mu.Unlock()
			if c.timedOut.Load() {
				c.s.m.dropped.WithLabelValues("write_timeout").Inc()
			}
			_ = c.ws.CloseNow()
			return
		}
		written++
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
		c.timedOut.Store(true)
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
