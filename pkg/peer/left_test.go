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
