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
