package signal

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

func TestTooBig(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, &ServerOptions{MaxFrame: 1024})
	big, other := dialRaw(t, url, nil), dialRaw(t, url, nil)
	big.join("r")
	other.join("r")
	big.expect(TypePeerJoined, "")
	big.send(`{"type":"offer","room":"r","data":"` + strings.Repeat("x", 2048) + `"}`)
	if code := big.expectClose(); code != CloseTooBig {
		t.Fatalf("close code %d, want %d", code, CloseTooBig)
	}
	other.expect(TypePeerLeft, "")
	// the server is still up for everyone else.
	late := dialRaw(t, url, nil)
	late.join("r")
	other.expect(TypePeerJoined, "")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, &ServerOptions{Rate: 0.001, Burst: 2, MaxViolations: 3})
	c := dialRaw(t, url, nil)
	c.join("r")                                    // token 1
	c.send(`{"type":"offer","room":"r","data":1}`) // token 2 (nobody to relay to)
	c.send(`{"type":"offer","room":"r","data":1}`)
	c.expect(TypeError, CodeRateLimited)
	c.send(`{"type":"offer","room":"r","data":1}`)
	c.expect(TypeError, CodeRateLimited)
	c.send(`{"type":"offer","room":"r","data":1}`)
	if code := c.expectClose(); code != ClosePolicyViolation {
		t.Fatalf("close code %d, want %d", code, ClosePolicyViolation)
	}
}

func TestMaxConnsPerIP(t *testing.T) {
	t.Parallel()
	s, url := testServer(t, &ServerOptions{MaxConnsPerIP: 2})
	released := make(chan struct{}, 1)
	s.mu.Lock()
	s.testHookReleased = func() {
		select {
		case released <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
	a := dialRaw(t, url, nil)
	dialRaw(t, url, nil)
	_, resp, err := websocket.Dial(testCtx(t), url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection: err %v resp %v, want 429", err, resp)
	}
	// a slot frees when a connection ends.
	a.join("r")
	_ = a.ws.Close(websocket.StatusNormalClosure, "")
	select {
	case <-released:
	case <-testCtx(t).Done():
		t.Fatal("slot never freed")
	}
	ws, _, err := websocket.Dial(testCtx(t), url, nil)
	if err != nil {
		t.Fatalf("connection after a slot was freed: %v", err)
	}
	_ = ws.CloseNow()
}

func TestRoomLimits(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, &ServerOptions{MaxMembers: 2, MaxRooms: 1})
	a, b, c := dialRaw(t, url, nil), dialRaw(t, url, nil), dialRaw(t, url, nil)
	a.join("r")
	b.join("r")
	c.send(`{"type":"join","room":"r"}`)
	c.expect(TypeError, CodeRoomFull)
	c.send(`{"type":"join","room":"other"}`)
	c.expect(TypeError, CodeTooManyRooms)
}

func TestPongTimeout(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, &ServerOptions{PingInterval: 20 * time.Millisecond, PongTimeout: 500 * time.Millisecond})
	deaf, alive := dialRaw(t, url, nil), dialRaw(t, url, nil)
	alive.join("r")
	deaf.join("r")
	alive.expect(TypePeerJoined, "")
	// deaf never reads again, so it never answers pings: the server drops it.
	alive.expect(TypePeerLeft, "") // alive keeps reading, so it answers pings and stays.
	alive.send(`{"type":"offer","room":"r","data":1}`)
	alive.expectSilence(150 * time.Millisecond)
}

// TestSlowReader checks that a client that stops reading is dropped and
// does not hold up the others.
func TestSlowReader(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, &ServerOptions{Rate: 1e6, Burst: 1e6, SendQueueBytes: 64 << 10, WriteTimeout: 200 * time.Millisecond})
	sender, slow, fast := dialRaw(t, url, nil), dialRaw(t, url, nil), dialRaw(t, url, nil)
	sender.join("r")
	slow.join("r")
	fast.join("r")
	sender.expect(TypePeerJoined, "")
	sender.expect(TypePeerJoined, "")
	slow.expect(TypePeerJoined, "")
	frame := `{"type":"offer","room":"r","data":"` + strings.Repeat("x", 60000) + `"}`
	for i := 0; ; i++ {
		sender.send(frame)
		if _, f := fast.recv(); f.Type == TypePeerLeft {
			break // slow was dropped
		}
		if i > 2000 {
			t.Fatal("slow reader never dropped")
		}
	}
	sender.send(`{"type":"ice","room":"r","data":1}`)
	for { // offers sent before the drop may still be on their way
		if _, f := fast.recv(); f.Type == "ice" {
			break
		} else if f.Type != "offer" {
			t.Fatalf("fast got %q", f.Type)
		}
	}
}

// TestOrigin: with no allow-list every browser Origin connects (a page on
// the app's own origin, a file:// page's "null"); with a list, only the
// listed ones and the server's own host do, and every refusal is a 403
// with a warning that names the Origin and the flag that would allow it.
func TestOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		allow   []string
		origin  string
		ok      bool
		ownHost bool // send the server's own host as the Origin
	}{
		{"default, native client", nil, "", true, false},
		{"default, app dev server", nil, "http://localhost:5173", true, false},
		{"default, file page", nil, "null", true, false},
		{"default, any site", nil, "https://evil.example.com", true, false},
		{"list, native client", []string{"app.example.com"}, "", true, false},
		{"list, listed host", []string{"app.example.com"}, "https://app.example.com", true, false},
		{"list, host pattern", []string{"*.example.com"}, "https://app.example.com", true, false},
		{"list, whole origin", []string{"http://localhost:5173"}, "http://localhost:5173", true, false},
		{"list, whole origin other scheme", []string{"http://localhost:5173"}, "https://localhost:5173", false, false},
		{"list, own host", []string{"app.example.com"}, "", true, true},
		{"list, other host", []string{"app.example.com"}, "https://evil.example.com", false, false},
		{"list, file page", []string{"app.example.com"}, "null", false, false},
		{"list, null allowed", []string{"null"}, "null", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			_, url := testServer(t, &ServerOptions{AllowOrigins: tc.allow,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			origin := tc.origin
			if tc.ownHost {
				origin = "http://" + strings.TrimPrefix(url, "ws://")
			}
			h := http.Header{}
			if origin != "" {
				h.Set("Origin", origin)
			}
			ws, resp, err := websocket.Dial(testCtx(t), url, &websocket.DialOptions{HTTPHeader: h})
			if tc.ok != (err == nil) {
				t.Fatalf("origin %q: err %v, want ok=%v", origin, err, tc.ok)
			}
			if err == nil {
				_ = ws.CloseNow()
				return
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
			line := logs.String()
			if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "origin="+origin) ||
				!strings.Contains(line, "--allow-origin") {
				t.Fatalf("refusal log %q does not name the origin and the flag", line)
			}
		})
	}
}

// TestWriteTimeout checks that a client whose socket stays full is cut by
// the write watchdog even when its send queue never fills.
func TestWriteTimeout(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	_, url := testServer(t, &ServerOptions{Rate: 1e6, Burst: 1e6, SendQueueBytes: 1 << 30,
		WriteTimeout: 100 * time.Millisecond, Registry: reg})
	sender, stuck := dialRaw(t, url, nil), dialRaw(t, url, nil)
	sender.join("r")
	stuck.join("r")
	sender.expect(TypePeerJoined, "")
	// stuck never reads again: once the TCP buffers are full (a few MB on
	// loopback) a write blocks and the watchdog cuts the connection.
	frame := `{"type":"offer","room":"r","data":"` + strings.Repeat("x", 60000) + `"}`
	for range 400 {
		sender.send(frame)
	}
	sender.expect(TypePeerLeft, "")
	if n := droppedFor(t, reg, "write_timeout"); n != 1 {
		t.Fatalf("connections dropped for write_timeout = %v, want 1", n)
	}
}

func droppedFor(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vtpeer_signal_connections_dropped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
