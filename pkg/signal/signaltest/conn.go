// Package signaltest is the signaling protocol suite run against servers
// that share rooms: the two (or more) members of each room are put on
// different nodes. pkg/signal runs it on its in-process cluster and
// pkg/cluster on real NATS nodes; a single server passes it too.
package signaltest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// Timeout bounds each read and write of the suite; cross-node state takes
// a few milliseconds, and the shared CI machine is slow.
const Timeout = 10 * time.Second

// Conn is a bare WebSocket client speaking raw JSON, like the browser
// client.
type Conn struct {
	t  testing.TB
	ws *websocket.Conn
}

// Dial connects to a node's signaling URL; the connection is closed when
// the test ends.
func Dial(t testing.TB, url string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &Conn{t: t, ws: ws}
}

// Send writes one text frame.
func (c *Conn) Send(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// Recv reads one frame and returns it raw and decoded.
func (c *Conn) Recv() (string, signal.Frame) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var f signal.Frame
	if err := json.Unmarshal(b, &f); err != nil {
		c.t.Fatalf("server sent invalid JSON %q: %v", b, err)
	}
	return string(b), f
}

// Expect reads one frame and checks its type (and code for errors).
func (c *Conn) Expect(typ, code string) signal.Frame {
	c.t.Helper()
	raw, f := c.Recv()
	if f.Type != typ || f.Code != code {
		c.t.Fatalf("got %s, want type %q code %q", raw, typ, code)
	}
	return f
}

// Join joins room and returns the joined frame.
func (c *Conn) Join(room string) signal.Frame {
	c.t.Helper()
	c.Send(`{"type":"join","room":"` + room + `"}`)
	return c.Expect(signal.TypeJoined, "")
}

// ExpectClose reads until the connection closes and returns the close code.
func (c *Conn) ExpectClose() websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for {
		if _, _, err := c.ws.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// ExpectSilence checks that nothing arrives within d. The connection is
// unusable afterwards.
func (c *Conn) ExpectSilence(d time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if _, b, err := c.ws.Read(ctx); err == nil {
		c.t.Fatalf("unexpected frame %s", b)
	}
}

// CloseNow cuts the connection without a close handshake.
func (c *Conn) CloseNow() { _ = c.ws.CloseNow() }
