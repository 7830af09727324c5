package peer

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// TestRelayHelloNotAnOffer: a relay "hello" frame with a gen we do not hold starts a transport
// only if it carries an offerer's hello. The late answer to an attempt that was abandoned (the
// e2e grinding test: d's answer to the server's last attempt in c's name reached c after /retry),
// a reveal or an abort is ignored: taking it for an offer failed the handshake ("both sides are
// answerer") and gave up on the peer, so the real offer that followed was refused.
func TestRelayHelloNotAnOffer(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, seal.KeySize)
	answer, err := seal.Hello{Version: 1, Role: seal.RoleAnswerer, Key: key}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	reveal, err := seal.Reveal{Key: key}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	abort, err := seal.Abort{Code: "handshake"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
	}{{"answerer hello", answer}, {"reveal", reveal}, {"abort", abort}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t, 60*time.Second)
			r := newRelay(t)
			// Hold b's offer until the stray frame is queued ahead of it.
			r.setFilter(func(_, _, typ string, _ json.RawMessage) (bool, bool) { return false, typ == SignalRelay })
			server := func(o *Options) { o.Via = ViaServer }
			a := newNode(t, r, "a", server)
			b := newNode(t, r, "b", server)
			r.join("a", a.n)
			r.join("b", b.n)
			data, err := encodeRelayData(newGen()+1<<40, relayHello, tc.msg) // newer than b's offer
			if err != nil {
				t.Fatal(err)
			}
			if err := r.send("b", "a", SignalRelay, data); err != nil {
				t.Fatal(err)
			}
			r.release()
			ca, cb := waitConnected(t, ctx, a), waitConnected(t, ctx, b)
			if ca.SAS != cb.SAS {
				t.Fatalf("SAS %s vs %s", ca.SAS, cb.SAS)
			}
		})
	}
}

// TestCandidateTakesOver: the legitimate side of make before break. While a verified session
// runs over a live transport, b offers a new one: a relay transport (a candidate on both sides,
// promoted once it continued the session), or a PeerConnection (b's own replaces its old one at
// once, see candidate.go; at a the new one is a candidate until a notices the old one closed, then
// it takes its place). Either way the new transport continues the session and takes over — a
// PeerConnected, a new gen on both sides, no error — and the messages a sends meanwhile arrive
// exactly once, in order.
func TestCandidateTakesOver(t *testing.T) {
	t.Parallel()
	for _, via := range []string{ViaServer, ViaAuto} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t, 90*time.Second)
			mod := func(o *Options) { o.Via = via }
			_, a, b := pair(t, ctx, mod, mod)
			exchange(t, ctx, a, b, 20, 100, nil)
			old := a.n.activeGen("b")
			b.n.mu.Lock()
			pa := b.n.peers["a"]
			b.n.mu.Unlock()
			exchange(t, ctx, a, b, 400, 100, func(i int) {
				if i == 100 {
					b.n.connect(pa) // ViaServer: a relay transport; ViaAuto: a PeerConnection
				}
			})
			for _, tn := range []*testNode{a, b} {
				select {
				case e := <-tn.c.connected:
					if e.SAS == "" {
						t.Fatalf("%s: %+v", tn.id, e)
					}
				case e := <-tn.c.errs:
					t.Fatalf("%s: error %s: %v", tn.id, e.Code, e.Err)
				case <-ctx.Done():
					t.Fatalf("%s: the candidate did not take over", tn.id)
				}
			}
			ga, gb := a.n.activeGen("b"), b.n.activeGen("a")
			if ga == old || ga != gb {
				t.Fatalf("active gens %d and %d, the old one %d", ga, gb, old)
			}
			exchange(t, ctx, b, a, 20, 100, nil)
		})
	}
}

// TestRelayAnswererOffersWhenOffererGaveUp: on the relay only the offerer of a transport offers
// its replacement. When the transport a answered dies and its offerer never offers another (it
// dropped it for an attempt of its own, or — here — the offer came from the server in b's name),
// a offers one itself after a whole recovery wait, and a and b connect. Before, both sat waiting
// (the e2e grinding test after /retry).
func TestRelayAnswererOffersWhenOffererGaveUp(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	r := newRelay(t)
	fast := func(o *Options) {
		o.Via = ViaServer
		withRestartWait(o, 100*time.Millisecond, [3]time.Duration{time.Second, 2 * time.Second, 200 * time.Millisecond})
		withHandshakeTimers(o, 150*time.Millisecond, 20*time.Millisecond)
	}
	a := newNode(t, r, "a", fast)
	b := newNode(t, r, "b", fast)
	r.join("a", a.n)
	r.attach("b", b.n) // b is not announced: it offers nothing
	commit := bytes.Repeat([]byte{9}, 32)
	hello, err := seal.Hello{Version: 1, Role: seal.RoleOfferer, Commit: commit}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	data, err := encodeRelayData(newGen(), relayHello, hello)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.send("b", "a", SignalRelay, data); err != nil { // an offer in b's name that nobody follows up
		t.Fatal(err)
	}
	ca, cb := waitConnected(t, ctx, a), waitConnected(t, ctx, b)
	if ca.SAS != cb.SAS {
		t.Fatalf("SAS %s vs %s", ca.SAS, cb.SAS)
	}
}
