package signal

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// testServer starts a Server on loopback behind httptest and closes both
// at the end of the test.
func testServer(t *testing.T, opts *ServerOptions) (*Server, string) {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Server.Close: %v", err)
		}
		hs.Close()
	})
	return s, "ws" + strings.TrimPrefix(hs.URL, "http")
}

// testCtx bounds a test's waits. The bound only matters when something is
// wrong, so it is generous: CI shares two cores with the other packages'
// tests, and a loaded run stretched a healthy 1 s wait past 5 s.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawConn is a bare WebSocket client speaking raw JSON, like the browser client.
type rawConn struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRaw(t *testing.T, url string, hdr http.Header) *rawConn {
	t.Helper()
	ws, _, err := websocket.Dial(testCtx(t), url, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &rawConn{t: t, ws: ws}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if err := c.ws.Write(testCtx(c.t), websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// recv reads one frame and returns it raw and decoded.
func (c *rawConn) recv() (string, Frame) {
	c.t.Helper()
	_, b, err := c.ws.Read(testCtx(c.t))
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		c.t.Fatalf("server sent invalid JSON %q: %v", b, err)
	}
	return string(b), f
}

// expect reads one frame and checks its type (and code for errors).
func (c *rawConn) expect(typ, code string) Frame {
	c.t.Helper()
	raw, f := c.recv()
	if f.Type != typ || f.Code != code {
		c.t.Fatalf("got %s, want type %q code %q", raw, typ, code)
	}
	return f
}

func (c *rawConn) join(room string) Frame {
	c.t.Helper()
	c.send(`{"type":"join","room":"` + room + `"}`)
	return c.expect(TypeJoined, "")
}

// expectClose reads until the connection closes and returns the close code.
func (c *rawConn) expectClose() websocket.StatusCode {
	c.t.Helper()
	for {
		_, _, err := c.ws.Read(testCtx(c.t))
		if err != nil {
			return websocket.CloseStatus(err) // -1 when no close frame came
		}
	}
}

// expectSilence checks that nothing arrives within d. The connection is
// unusable afterwards (coder/websocket closes it when a read times out).
func (c *rawConn) expectSilence(d time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if _, b, err := c.ws.Read(ctx); err == nil {
		c.t.Fatalf("unexpected frame %s", b)
	}
}

// connTracker records server-side TCP connections so a test can cut them.
type connTracker struct {
	ch chan net.Conn
}

func (ct *connTracker) connContext(ctx context.Context, c net.Conn) context.Context {
	select {
	case ct.ch <- c:
	default:
	}
	return ctx
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
