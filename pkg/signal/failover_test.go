package signal

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// deadURL is a loopback ws URL nothing listens on (connection refused).
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "ws://" + ln.Addr().String()
	_ = ln.Close()
	return u
}

// TestDialFailsOverDeadFirstServer: with a list of servers whose first one
// is down (refused, or silent past HandshakeTimeout), Dial without Retry
// connects to the next one at once, reports the failure with the dead
// server's URL, and the client joins there.
func TestDialFailsOverDeadFirstServer(t *testing.T) {
	t.Parallel()
	silent, _ := silentListener(t)
	for _, tc := range []struct {
		name string
		dead string
	}{
		{"refused", deadURL(t)},
		{"silent", silent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, url := testServer(t, nil)
			ctx := testCtx(t)
			failures := make(chan DialFailure, 8)
			c, err := Dial(ctx, tc.dead+" , "+url, &ClientOptions{HandshakeTimeout: 300 * time.Millisecond,
				OnDialFailure: func(f DialFailure) { failures <- f }})
			if err != nil {
				t.Fatalf("Dial over [dead, live]: %v", err)
			}
			defer c.Close()
			if _, err := c.Join(ctx, "room"); err != nil {
				t.Fatal(err)
			}
			select {
			case f := <-failures:
				if f.Attempt != 1 || f.URL != tc.dead || f.Retry != 0 || !strings.Contains(f.Err.Error(), tc.dead) {
					t.Fatalf("failure = %+v (%v), want attempt 1 at %s with no wait", f, f.Err, tc.dead)
				}
			default:
				t.Fatal("the dead server's failure was not reported")
			}
		})
	}
}

// TestDialAllServersDown: without Retry, Dial tries every server once and
// returns the last failure, naming its server.
func TestDialAllServersDown(t *testing.T) {
	t.Parallel()
	a, b := deadURL(t), deadURL(t)
	var tried []string
	_, err := Dial(testCtx(t), a+","+b, &ClientOptions{OnDialFailure: func(f DialFailure) { tried = append(tried, f.URL) }})
	if err == nil || !strings.Contains(err.Error(), "dial signal server "+b) || len(tried) != 1 || tried[0] != a {
		t.Fatalf("err = %v after failures at %v, want %s reported and %s's error", err, tried, a, b)
	}
}

// TestClientFailsOverWhenItsServerDies: two nodes of a cluster and a
// client that lists [A, a dead server, B]. A dies (its connections cut):
// the client skips the dead server at once, joins B with the same peer id,
// and the member on B sees it leave and come back.
func TestClientFailsOverWhenItsServerDies(t *testing.T) {
	t.Parallel()
	mc := NewMemCluster()
	sa, err := NewServer(&ServerOptions{Cluster: mc.NewNode("a")})
	if err != nil {
		t.Fatal(err)
	}
	track := &connTracker{ch: make(chan net.Conn, 8)}
	ha := httptest.NewUnstartedServer(sa)
	ha.Config.ConnContext = track.connContext
	ha.Start()
	defer ha.Close()
	defer sa.Close()
	_, urlB := testServer(t, &ServerOptions{Cluster: mc.NewNode("b")})
	urlA := "ws" + strings.TrimPrefix(ha.URL, "http")
	dead := deadURL(t)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	other := dialRaw(t, urlB, nil)
	other.join("room")
	failures := make(chan DialFailure, 8)
	c, err := Dial(ctx, strings.Join([]string{urlA, dead, urlB}, ","), &ClientOptions{PeerID: "alice-peer-1",
		MinBackoff: 10 * time.Millisecond, OnDialFailure: func(f DialFailure) { failures <- f }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if f := other.expect(TypePeerJoined, ""); f.PeerID != "alice-peer-1" {
		t.Fatalf("peer-joined = %+v", f)
	}

	// Node A dies under its client: the TCP connection is cut, no close
	// frame, and A takes no new connection.
	ha.Listener.Close()
	(<-track.ch).Close()
	if f, err := c.Recv(ctx); err != nil || f.Type != TypeReconnecting {
		t.Fatalf("want reconnecting, got %+v %v", f, err)
	}
	f, err := c.Recv(ctx)
	if err != nil || f.Type != TypeJoined || f.PeerID != "alice-peer-1" {
		t.Fatalf("after failover: %+v %v, want joined as alice-peer-1", f, err)
	}
	if g := <-failures; g.URL != dead || g.Retry != 0 {
		t.Fatalf("failure = %+v, want the dead server, tried with no wait", g)
	}
	// B saw alice leave with A and come back, under her peer id.
	if g := other.expect(TypePeerLeft, ""); g.PeerID != "alice-peer-1" {
		t.Fatalf("peer-left = %+v", g)
	}
	if g := other.expect(TypePeerJoined, ""); g.PeerID != "alice-peer-1" {
		t.Fatalf("peer-joined after failover = %+v", g)
	}
	if err := c.Send(ctx, Frame{Type: "offer", Data: []byte(`"hello from B"`)}); err != nil {
		t.Fatal(err)
	}
	if _, g := other.recv(); g.Type != "offer" || g.From != "alice-peer-1" || string(g.Data) != `"hello from B"` {
		t.Fatalf("frame after failover = %+v", g)
	}
}

// FuzzSplitURLs: the list parser never panics and returns trimmed,
// non-empty entries without commas.
func FuzzSplitURLs(f *testing.F) {
	f.Add("ws://a:1,ws://b:2")
	f.Add(" , ws://a ,,")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		for _, u := range SplitURLs(s) {
			if u == "" || u != strings.TrimSpace(u) || strings.Contains(u, ",") {
				t.Fatalf("SplitURLs(%q) gave %q", s, u)
			}
		}
	})
}
