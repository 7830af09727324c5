package signal

import (
	"container/list"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// gate bounds the connections that have not (yet) become WebSockets: a TCP
// connection accepted by net/http is "pending" from StateNew until it is
// hijacked for a WebSocket or closed. A pending connection costs a file
// descriptor, a goroutine and net/http's buffers whether or not it ever
// sends a request, so a client that opens thousands and sends nothing would
// otherwise exhaust the process (issue 8, item 4).
//
// Over MaxPendingConnsPerIP the new connection is cut. Over MaxPendingConns
// the oldest connection that is waiting for a request (StateNew or
// StateIdle) is cut to make room, so a fresh /healthz check still gets in
// while a flood is on; only when every pending connection is mid-request
// is the new one cut.
type gate struct {
	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]*pending
	perIP   map[string]int
	waiting list.List // *pending in StateNew or StateIdle, oldest first
}

type pending struct {
	c  net.Conn
	ip string
	el *list.Element // in gate.waiting, or nil while a request is served
}

// Reasons a pending connection is cut, the label of
// vtpeer_signal_pending_cut_total.
const (
	cutPerIP    = "per_ip"       // the remote IP has MaxPendingConnsPerIP pending
	cutFull     = "full"         // MaxPendingConns pending, all mid-request
	cutEvicted  = "evicted"      // the oldest waiting one, cut to make room
	cutShutdown = "shutdown"     // the Server is closing
	cutNoFD     = "fd_exhausted" // Accept failed for want of file descriptors
)

// ConnState is the http.Server ConnState hook that enforces
// MaxPendingConns and MaxPendingConnsPerIP and lets Close cut connections
// that have not finished a request. Set it on the http.Server that serves
// s:
//
//	hs := &http.Server{Handler: mux, ConnState: s.ConnState, ReadHeaderTimeout: 5 * time.Second}
//
// Connections it cuts are closed at once and counted in
// vtpeer_signal_pending_cut_total{reason}.
func (s *Server) ConnState(c net.Conn, state http.ConnState) {
	g := &s.gate
	switch state {
	case http.StateNew:
		s.admit(c)
	case http.StateActive:
		g.mu.Lock()
		if p := g.conns[c]; p != nil && p.el != nil {
			g.waiting.Remove(p.el)
			p.el = nil
		}
		g.mu.Unlock()
	case http.StateIdle:
		g.mu.Lock()
		if p := g.conns[c]; p != nil && p.el == nil {
			p.el = g.waiting.PushBack(p)
		}
		g.mu.Unlock()
	case http.StateHijacked, http.StateClosed:
		g.mu.Lock()
		if p := g.conns[c]; p != nil {
			g.forgetLocked(p)
			s.m.pending.Set(float64(len(g.conns)))
		}
		g.mu.Unlock()
	}
}

// admit counts a new connection, or cuts it (or the oldest waiting one).
func (s *Server) admit(c net.Conn) {
	g := &s.gate
	ip := addrIP(c.RemoteAddr())
	var victim net.Conn
	reason := ""
	g.mu.Lock()
	switch {
	case g.closed:
		reason = cutShutdown
	case s.opts.MaxPendingConnsPerIP > 0 && g.perIP[ip] >= s.opts.MaxPendingConnsPerIP:
		reason = cutPerIP
	case s.opts.MaxPendingConns > 0 && len(g.conns) >= s.opts.MaxPendingConns:
		if v := g.oldestLocked(); v != nil {
			victim = v
		} else {
			reason = cutFull
		}
	}
	if reason == "" {
		p := &pending{c: c, ip: ip}
		p.el = g.waiting.PushBack(p)
		g.conns[c] = p
		g.perIP[ip]++
	}
	s.m.pending.Set(float64(len(g.conns)))
	g.mu.Unlock()
	if victim != nil {
		s.cut(victim, cutEvicted)
	}
	if reason != "" {
		s.cut(c, reason)
	}
}

// oldestLocked forgets and returns the connection that has waited longest
// for a request, or nil when every pending connection is mid-request.
func (g *gate) oldestLocked() net.Conn {
	e := g.waiting.Front()
	if e == nil {
		return nil
	}
	p := e.Value.(*pending)
	g.forgetLocked(p)
	return p.c
}

func (g *gate) forgetLocked(p *pending) {
	if p.el != nil {
		g.waiting.Remove(p.el)
		p.el = nil
	}
	delete(g.conns, p.c)
	if g.perIP[p.ip] <= 1 {
		delete(g.perIP, p.ip)
	} else {
		g.perIP[p.ip]--
	}
}

// cut closes c's TCP connection at once (under TLS, without the
// close_notify write that could block) and counts it.
func (s *Server) cut(c net.Conn, reason string) {
	s.m.pendingCut.WithLabelValues(reason).Inc()
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = nc.NetConn()
	}
	_ = c.Close()
	s.logCut(reason)
}

// closeGate refuses new connections and cuts the pending ones that are
// waiting for a request; those mid-request finish (http.Server.Shutdown
// waits for them).
func (s *Server) closeGate() {
	g := &s.gate
	g.mu.Lock()
	g.closed = true
	var cut []net.Conn
	for v := g.oldestLocked(); v != nil; v = g.oldestLocked() {
		cut = append(cut, v)
	}
	s.m.pending.Set(float64(len(g.conns)))
	g.mu.Unlock()
	for _, c := range cut {
		s.cut(c, cutShutdown)
	}
}

// Listener returns ln wrapped so that a failed Accept (EMFILE: the process
// is out of file descriptors, ENFILE, …) is counted in
// vtpeer_signal_accept_errors_total{errno} and logged at warn, at most once
// a second with the number of failures since the last line. On EMFILE or
// ENFILE it also cuts the oldest pending connection waiting for a request
// (counted as reason "fd_exhausted"), so that the next Accept — a /healthz
// check, a WebSocket — can succeed. The error is returned unchanged:
// http.Server.Serve backs off on it and retries.
func (s *Server) Listener(ln net.Listener) net.Listener { return &watchedListener{Listener: ln, s: s} }

type watchedListener struct {
	net.Listener
	s *Server
}

// Accept implements net.Listener.
func (l *watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil || errors.Is(err, net.ErrClosed) {
		return c, err
	}
	s := l.s
	errno := errnoName(err)
	s.m.acceptErrors.WithLabelValues(errno).Inc()
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		g := &s.gate
		g.mu.Lock()
		v := g.oldestLocked()
		s.m.pending.Set(float64(len(g.conns)))
		g.mu.Unlock()
		if v != nil {
			s.cut(v, cutNoFD)
		}
	}
	s.warnEvery.do(time.Now(), func(suppressed int) {
		s.log.Warn("accept failed", "errno", errno, "err", err, "pending", s.pendingCount(), "suppressed", suppressed)
	})
	return c, err
}

func (s *Server) pendingCount() int {
	s.gate.mu.Lock()
	defer s.gate.mu.Unlock()
	return len(s.gate.conns)
}

// logCut logs cut connections at warn, at most once a second.
func (s *Server) logCut(reason string) {
	s.cutEvery.do(time.Now(), func(suppressed int) {
		s.log.Warn("pre-upgrade connection cut", "reason", reason, "pending", s.pendingCount(), "suppressed", suppressed)
	})
}

// everySecond runs a log function at most once a second and tells it how
// many calls it skipped since.
type everySecond struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (e *everySecond) do(now time.Time, f func(suppressed int)) {
	e.mu.Lock()
	if !e.last.IsZero() && now.Sub(e.last) < time.Second {
		e.suppressed++
		e.mu.Unlock()
		return
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	e.mu.Unlock()
	f(n)
}

// errnoName is the label for an Accept error.
func errnoName(err error) string {
	var en syscall.Errno
	switch {
	case errors.As(err, &en):
		switch en {
		case syscall.EMFILE:
			return "EMFILE"
		case syscall.ENFILE:
			return "ENFILE"
		case syscall.ECONNABORTED:
			return "ECONNABORTED"
		case syscall.ENOBUFS:
			return "ENOBUFS"
		case syscall.ENOMEM:
			return "ENOMEM"
		}
		return "errno"
	}
	return "other"
}

// addrIP is the host part of a TCP address.
func addrIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
