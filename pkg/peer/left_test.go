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
	start := time.Now()
	_ = b.n.Close() // the peer's process ends: a's transport dies, a starts recovering
	a.n.PeerLeft("b")
	select {
	case e := <-a.c.left:
		if e.Peer != "b" || e.Reason != "left" {
			t.Fatalf("PeerLeft = %+v, want b/left", e)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("PeerLeft after %v: recovery was not cut short", d)
		}
	case <-ctx.Done():
		t.Fatal("no PeerLeft event")
	}
}

// TestPeerLeftRelay: over the server relay there is no transport event when
// the peer goes away; signaling's peer-left ends the session at once.
func TestPeerLeftRelay(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	viaServer := func(o *Options) { o.Via = ViaServer }
	_, a, b := pair(t, ctx, viaServer, viaServer)
	start := time.Now()
	_ = b.n.Close()
	a.n.PeerLeft("b")
	select {
	case e := <-a.c.left:
		if e.Peer != "b" || e.Reason != "left" {
			t.Fatalf("PeerLeft = %+v, want b/left", e)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("PeerLeft after %v", d)
		}
	case <-ctx.Done():
		t.Fatal("no PeerLeft event")
	}
	for _, p := range a.n.Peers() {
		if p.Connected {
			t.Fatalf("peer %s still connected after it left", p.ID)
		}
	}
}
