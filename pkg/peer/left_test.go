package peer

import (
	"testing"
	"time"
)

// TestPeerLeftPrompt: when a peer's process is gone (its transport dies
// first) and signaling then says it left, the Node reports PeerLeft{left}
// at once instead of after the whole recovery budget.
func TestPeerLeftPrompt(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	_, a, b := pair(t, ctx, nil, nil)
	leaveAndExpectPrompt(t, a, b)
}

// TestPeerLeftRelay: over the server relay there is no transport event when
// the peer goes away; signaling's peer-left ends the session at once.
func TestPeerLeftRelay(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	viaServer := func(o *Options) { o.Via = ViaServer }
	_, a, b := pair(t, ctx, viaServer, viaServer)
	leaveAndExpectPrompt(t, a, b)
	for _, p := range a.n.Peers() {
		if p.Connected {
			t.Fatalf("peer %s still connected after it left", p.ID)
		}
	}
}

// leaveAndExpectPrompt closes b, tells a that b left, and expects
// PeerLeft{b, left} on a within 3 s.
func leaveAndExpectPrompt(t *testing.T, a, b *testNode) {
	t.Helper()
	start := time.Now()
	_ = b.n.Close()
	a.n.PeerLeft(b.id)
	select {
	case e := <-a.c.left:
		if e.Peer != b.id || e.Reason != "left" {
			t.Fatalf("PeerLeft = %+v, want %s/left", e, b.id)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("PeerLeft after %v: recovery was not cut short", d)
		}
	case <-time.After(20 * time.Second): // bounded wait for an event that must come
		t.Fatal("no PeerLeft event")
	}
}
