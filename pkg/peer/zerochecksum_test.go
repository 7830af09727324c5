package peer

import (
	"bytes"
	"testing"
	"time"
)

// TestSCTPZeroChecksum: a Node announces that it accepts SCTP packets without a CRC32c (RFC
// 9653: DTLS authenticates them) and leaves the CRC32c out towards a peer that announced the
// same. With a peer that does not announce it (vtpeer before it; withoutZeroChecksum) each
// direction is negotiated on its own: we keep sending CRC32c to it, it may leave it out
// towards us, and bulk data flows both ways on an extra channel either way.
func TestSCTPZeroChecksum(t *testing.T) {
	t.Parallel()
	type ends struct{ send, recv bool }
	for _, tc := range []struct {
		name       string
		modA, modB func(*Options)
		a, b       ends
	}{
		{name: "both announce", a: ends{send: true, recv: true}, b: ends{send: true, recv: true}},
		{name: "answerer without", modA: withoutZeroChecksum, a: ends{send: true, recv: false}, b: ends{send: false, recv: true}},
		{name: "offerer without", modB: withoutZeroChecksum, a: ends{send: false, recv: true}, b: ends{send: true, recv: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t, 60*time.Second)
			_, a, b := pair(t, ctx, tc.modA, tc.modB)
			for _, e := range []struct {
				tn   *testNode
				peer string
				want ends
			}{{a, "b", tc.a}, {b, "a", tc.b}} {
				send, recv, ok := e.tn.n.sctpZeroChecksum(e.peer)
				if !ok {
					t.Fatalf("%s: no SCTP association after PeerConnected", e.tn.id)
				}
				if got := (ends{send: send, recv: recv}); got != e.want {
					t.Errorf("%s: zero checksum %+v, want %+v", e.tn.id, got, e.want)
				}
			}
			const label = ChannelLabelPrefix + "file/zero-checksum"
			ca, cb := openChannelPair(t, ctx, a, b, label)
			// 40 messages of 32 KiB each way: ~1,100 SCTP packets in each direction.
			const n, size = 40, 32 << 10
			for _, d := range []struct {
				name     string
				from, to *Channel
			}{{"b→a", cb, ca}, {"a→b", ca, cb}} {
				errs := make(chan error, 1)
				go func() {
					for i := range n {
						if err := d.from.Send(ctx, bytes.Repeat([]byte{byte(i)}, size)); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
				for i := range n {
					m, err := d.to.Recv(ctx)
					if err != nil {
						t.Fatalf("%s: message %d: %v", d.name, i, err)
					}
					if !bytes.Equal(m, bytes.Repeat([]byte{byte(i)}, size)) {
						t.Fatalf("%s: message %d: %d bytes starting %d", d.name, i, len(m), m[0])
					}
				}
				if err := <-errs; err != nil {
					t.Fatalf("%s: send: %v", d.name, err)
				}
			}
		})
	}
}
