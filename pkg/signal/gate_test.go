package signal

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"
)

// gateServer serves s (and /healthz, and /block, which signals entered
// and holds its request until release is closed) from a real http.Server
// with s.ConnState, as vtpeer serve does, and returns its address.
func gateServer(t *testing.T, opts *ServerOptions) (s *Server, addr string, entered, release chan struct{}) {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	entered, release = make(chan struct{}, 16), make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/", s)
	mux.Handle("/healthz", s.HealthHandler())
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	hs := httptest.NewUnstartedServer(mux)
	hs.Config.ConnState = s.ConnState
	hs.Config.ReadHeaderTimeout = time.Minute // only the gate cuts here
	hs.Listener = s.Listener(hs.Listener)
	hs.Start()
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		_ = s.Close()
		hs.Close()
	})
	return s, hs.Listener.Addr().String(), entered, release
}

// dialFrom connects to addr from the loopback address src (127.0.0.2 is
// another "client IP" on Linux) and sends half a request line.
func dialFrom(t *testing.T, src, addr, partial string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.DialContext(testCtx(t), "tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := io.WriteString(c, partial); err != nil {
		t.Fatal(err)
	}
	return c
}

// expectCut waits (under the test deadline) for the server to close c.
func expectCut(t *testing.T, c net.Conn) {
	t.Helper()
	dl, _ := testCtx(t).Deadline()
	_ = c.SetReadDeadline(dl)
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection %s was not cut: %v", c.LocalAddr(), err)
	}
}

// expectServed finishes the request begun on c (a stalled "GET /healthz")
// and checks that it is answered: the connection was kept.
func expectServed(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := io.WriteString(c, "Host: x\r\n\r\n"); err != nil {
		t.Fatalf("connection %s: %v", c.LocalAddr(), err)
	}
	dl, _ := testCtx(t).Deadline()
	_ = c.SetReadDeadline(dl)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("connection %s was not served: %v", c.LocalAddr(), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("connection %s: %s", c.LocalAddr(), resp.Status)
	}
}

// getHealthz fetches /healthz from 127.0.0.1 on a new connection.
func getHealthz(t *testing.T, addr string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	start := time.Now()
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatalf("healthz during the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %s", resp.Status)
	}
	return time.Since(start)
}

func pendingCutValue(t *testing.T, s *Server, reason string) float64 {
	t.Helper()
	var m dto.Metric
	if err := s.m.pendingCut.WithLabelValues(reason).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func gaugeValue(t *testing.T, s *Server) float64 {
	t.Helper()
	var m dto.Metric
	if err := s.m.pending.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

const stalledLine = "GET /healthz HTTP/1.1\r\n"

// TestPendingPerIP: past MaxPendingConnsPerIP, stalled connections from one
// address are cut at once and counted; the first ones are kept, and another
// address still gets /healthz.
func TestPendingPerIP(t *testing.T) {
	t.Parallel()
	s, addr, _, _ := gateServer(t, &ServerOptions{MaxPendingConnsPerIP: 4})
	var conns []net.Conn
	for range 10 {
		conns = append(conns, dialFrom(t, "127.0.0.2", addr, stalledLine))
	}
	for _, c := range conns[4:] {
		expectCut(t, c)
	}
	getHealthz(t, addr)
	if got := pendingCutValue(t, s, cutPerIP); got != 6 {
		t.Fatalf("pending_cut_total{per_ip} = %v, want 6", got)
	}
	for _, c := range conns[:4] {
		expectServed(t, c)
	}
}

// TestPendingGlobalEvictsOldest: at MaxPendingConns a new connection pushes
// out the one that has waited longest, so a flood of stalled connections
// from many sockets holds at most MaxPendingConns and /healthz answers.
func TestPendingGlobalEvictsOldest(t *testing.T) {
	t.Parallel()
	const max, flood = 8, 60
	s, addr, _, _ := gateServer(t, &ServerOptions{MaxPendingConns: max, MaxPendingConnsPerIP: -1})
	var conns []net.Conn
	for range flood {
		conns = append(conns, dialFrom(t, "127.0.0.2", addr, stalledLine))
	}
	for _, c := range conns[:flood-max] {
		expectCut(t, c)
	}
	if d := getHealthz(t, addr); d > time.Second {
		t.Errorf("healthz took %v during the flood", d)
	}
	// healthz pushed out one more, the oldest survivor
	expectCut(t, conns[flood-max])
	if got := pendingCutValue(t, s, cutEvicted); got != flood-max+1 {
		t.Fatalf("pending_cut_total{evicted} = %v, want %d", got, flood-max+1)
	}
	if g := gaugeValue(t, s); g > max {
		t.Fatalf("pending_connections = %v above the cap %d", g, max)
	}
	for _, c := range conns[flood-max+1:] {
		expectServed(t, c)
	}
}

// TestPendingFull: when every pending connection is mid-request, a new one
// is cut (reason full) rather than one being served.
func TestPendingFull(t *testing.T) {
	t.Parallel()
	s, addr, entered, release := gateServer(t, &ServerOptions{MaxPendingConns: 2, MaxPendingConnsPerIP: -1})
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			_, _ = io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
	}
	// both requests in the handler: their connections are StateActive
	for range 2 {
		select {
		case <-entered:
		case err := <-errc:
			t.Fatalf("blocked request: %v", err)
		case <-testCtx(t).Done():
			t.Fatal("the /block requests never reached the handler")
		}
	}
	expectCut(t, dialFrom(t, "127.0.0.2", addr, stalledLine))
	if got := pendingCutValue(t, s, cutFull); got != 1 {
		t.Fatalf("pending_cut_total{full} = %v, want 1", got)
	}
	close(release)
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatalf("blocked request: %v", err)
		}
	}
}

// TestCloseCutsPending: Server.Close cuts connections that never sent a
// whole request instead of leaving them to http.Server.Shutdown.
func TestCloseCutsPending(t *testing.T) {
	t.Parallel()
	s, addr, _, _ := gateServer(t, nil)
	ws := dialRaw(t, "ws://"+addr+"/ws", nil)
	ws.join("r")
	var conns []net.Conn
	for range 3 {
		conns = append(conns, dialFrom(t, "127.0.0.2", addr, stalledLine))
	}
	getHealthz(t, addr) // the stalled ones were accepted before it
	// the client reads, as a live one does (the close handshake needs its answer)
	closed := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, _, err := ws.ws.Read(context.Background()); err != nil {
				closed <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if code := <-closed; code != CloseGoingAway {
		t.Fatalf("WebSocket close %d, want 1001", code)
	}
	for _, c := range conns {
		expectCut(t, c)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close and the cuts took %v", d)
	}
	if got := pendingCutValue(t, s, cutShutdown); got != 3 {
		t.Fatalf("pending_cut_total{shutdown} = %v, want 3", got)
	}
}

// TestCloseDoesNotWaitForSilentClient: a client that never reads cannot
// answer the 1001 close frame; Close cuts it after closeHandshakeTimeout
// (1 s) instead of coder/websocket's own 5 s wait.
func TestCloseDoesNotWaitForSilentClient(t *testing.T) {
	t.Parallel()
	s, url := testServer(t, nil)
	c := dialRaw(t, url, nil)
	c.join("r") // and never reads again
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > closeHandshakeTimeout+time.Second {
		t.Fatalf("Close took %v with a silent client, want about %v", d, closeHandshakeTimeout)
	}
}
