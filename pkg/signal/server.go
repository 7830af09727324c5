package signal

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Server is the signaling server. It is an http.Handler for WebSocket
// upgrades and does not listen on its own: the caller owns the listener,
// TLS, HTTP timeouts and shutdown. Mount it at "/" and "/ws"; mount
// HealthHandler at "/healthz"; set ConnState on the http.Server and wrap
// the listener with Listener to bound and observe connections before the
// upgrade.
//
// Each connection costs one goroutine (its reader). Frames for a client go
// into a small bounded queue drained by a writer goroutine that exists only
// while the queue is non-empty and a few milliseconds after; pings come
// from one shared ticker.
type Server struct {
	opts    ServerOptions
	log     *slog.Logger
	m       *metrics
	accept  websocket.AcceptOptions
	origins *originPolicy
	cluster Cluster // nil: this Server holds every member (ServerOptions.Cluster)
	detach  func()

	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{}
	rooms  map[string]*room
	perIP  map[string]int
	// testHookReleased, set by tests only, runs with mu held whenever a
	// per-IP connection slot is freed.
	testHookReleased func()

	gate      gate        // connections not yet upgraded, see ConnState
	warnEvery everySecond // rate-limits the Accept failure log
	cutEvery  everySecond // rate-limits the cut connection log

	bufs  sync.Pool // *[]byte read buffers, see conn.readMessage
	epoch time.Time // for clock

	stop chan struct{}
	wg   sync.WaitGroup
}

// NewServer returns a Server configured by opts (nil: defaults) and starts
// its ping ticker. Call Close to stop it.
func NewServer(opts *ServerOptions) (*Server, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: o,
		log:  o.Logger,
		m:    m,
		// The Origin was checked by origins before Accept (which would
		// otherwise refuse every cross-origin page, silently).
		accept: websocket.AcceptOptions{
			InsecureSkipVerify: true,
			CompressionMode:    websocket.CompressionDisabled,
		},
		origins: newOriginPolicy(o.AllowOrigins),
		conns:   make(map[*conn]struct{}),
		rooms:   make(map[string]*room),
		perIP:   make(map[string]int),
		stop:    make(chan struct{}),
		epoch:   time.Now(),
	}
	if o.Cluster != nil {
		s.cluster = o.Cluster
		s.detach = o.Cluster.Attach(clusterNode{s})
	}
	s.gate.conns = make(map[net.Conn]*pending)
	s.gate.perIP = make(map[string]int)
	s.wg.Add(1)
	go s.pingLoop()
	return s, nil
}

// ServeHTTP upgrades the request to a WebSocket and serves the signaling
// protocol on it. A token in "?token=" or "Authorization: Bearer" is
// checked here when Auth is set (401 when invalid).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := remoteIP(r)
	if !s.origins.allowed(r) {
		s.m.rejected.WithLabelValues("origin_not_allowed").Inc()
		origin := r.Header.Get("Origin")
		if s.origins.logEvery.Allow() {
			s.log.Warn("refused a browser origin", "origin", origin, "remote", ip,
				"allow_with", originHint(origin))
		}
		http.Error(w, "origin "+origin+" is not allowed by this server", http.StatusForbidden)
		return
	}
	if !s.reserveIP(ip) {
		s.m.rejected.WithLabelValues("too_many_connections").Inc()
		http.Error(w, "too many connections from this address", http.StatusTooManyRequests)
		return
	}
	reserved := true
	defer func() {
		if reserved {
			s.releaseIP(ip)
		}
	}()
	var claims *Claims
	if tok := requestToken(r); tok != "" && s.opts.Auth != nil {
		c, err := s.opts.Auth.Verify(tok)
		if err != nil {
			s.m.rejected.WithLabelValues(CodeUnauthorized).Inc()
			writeHTTPError(w, http.StatusUnauthorized, CodeUnauthorized, "invalid token")
			return
		}
		claims = c
	}
	var got hijacked
	hj, ok := w.(http.Hijacker)
	if ok {
		w = smallHijacker{ResponseWriter: w, hj: hj, got: &got}
	}
	ws, err := websocket.Accept(w, r, &s.accept)
	if err != nil {
		s.log.Debug("websocket accept failed", "remote", ip, "err", err)
		return
	}
	ws.SetReadLimit(s.opts.MaxFrame)
	c := newConn(s, ws, ip, claims)
	c.raw = got.raw
	c.park = newIdleWait(got.raw, got.br)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close(CloseGoingAway, "server shutting down")
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	reserved = false
	s.m.conns.Inc()
	go c.readLoop()
}

// HealthHandler returns a handler answering {"status":"ok",…} with the
// number of connections and rooms, or 503 after Close.
func (s *Server) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		h := struct {
			Status      string `json:"status"`
			Version     int    `json:"version"`
			Connections int    `json:"connections"`
			Rooms       int    `json:"rooms"`
		}{"ok", ProtocolVersion, len(s.conns), len(s.rooms)}
		closed := s.closed
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if closed {
			h.Status = "closing"
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
}

// ReadyHandler returns a handler answering 200 {"status":"ready"} while
// the server takes joins, and 503 with the reason otherwise: after Close,
// or while its Cluster cannot reach the rest of the cluster (a load
// balancer then sends new clients to another node).
func (s *Server) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := struct {
			Status string `json:"status"`
			Node   string `json:"node,omitempty"`
			Reason string `json:"reason,omitempty"`
		}{Status: "ready"}
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		switch {
		case closed:
			h.Status, h.Reason = "closing", "server shutting down"
		case s.cluster != nil:
			h.Node = s.cluster.NodeID()
			if err := s.cluster.Ready(); err != nil {
				h.Status, h.Reason = "unavailable", err.Error()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		if h.Status != "ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
}

// Close sends a going-away close (1001) to every client, cuts the
// connections counted by ConnState that are waiting for a request (a
// stalled client is not waited for), and waits until every goroutine the
// Server started has returned. Later upgrades and connections are refused.
// Close is idempotent. Call it when shutdown begins, before or beside
// http.Server.Shutdown, which waits for connections that have not sent a
// request.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.closeGate()
	close(s.stop)
	for _, c := range conns {
		c.closeWith(CloseGoingAway, "server shutting down")
	}
	s.wg.Wait()
	if s.detach != nil {
		s.detach()
	}
	return nil
}

func (s *Server) reserveIP(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.opts.MaxConnsPerIP > 0 && s.perIP[ip] >= s.opts.MaxConnsPerIP {
		return false
	}
	s.perIP[ip]++
	return true
}

func (s *Server) releaseIP(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseIPLocked(ip)
}

func (s *Server) releaseIPLocked(ip string) {
	if s.perIP[ip] <= 1 {
		delete(s.perIP, ip)
	} else {
		s.perIP[ip]--
	}
	if s.testHookReleased != nil {
		s.testHookReleased()
	}
}

// pingLoop pings each connection once per PingInterval, spreading the pings
// over time; a connection that does not answer within PongTimeout is dropped.
func (s *Server) pingLoop() {
	defer s.wg.Done()
	tick := min(max(s.opts.PingInterval/8, 5*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	var due []*conn
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			due = due[:0]
			s.mu.Lock()
			for c := range s.conns {
				if now.After(c.nextPing) {
					c.nextPing = now.Add(s.opts.PingInterval)
					due = append(due, c)
				}
			}
			for _, c := range due {
				s.wg.Add(1)
				go c.ping()
			}
			s.mu.Unlock()
			clear(due)
		}
	}
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func requestToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

func writeHTTPError(w http.ResponseWriter, status int, code, msg string) {
	b, err := EncodeFrame(Frame{Type: TypeError, Code: code, Error: msg})
	if err != nil {
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// clock returns monotonic nanoseconds since the Server started, plus one so
// that it is never 0.
func (s *Server) clock() int64 { return int64(time.Since(s.epoch)) + 1 }

// pingCtx bounds one ping round trip.
func (s *Server) pingCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.PongTimeout)
}
