package peer

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// TestHostileWire plays a hostile network / signaling path between the peers: it rewrites hellos
// and drops, replays or bit-flips sealed frames. The handshake must abort or the frame be rejected
// with the stated error, and nothing of a bad frame may reach the application.
func TestHostileWire(t *testing.T) {
	t.Parallel()
	const tamperAt = 4 // binary frame index (from b to a) to tamper with; 1 is b's start frame
	tests := []struct {
		name    string
		tamper  func(b []byte) [][]byte // nil: tamper with text (hello) instead
		hello   func(h *seal.Hello)
		code    string
		wantErr error
	}{
		{name: "fingerprint rewritten in hello", hello: func(h *seal.Hello) { h.Fingerprint = randBytes(32) },
			code: CodeFingerprintMismatch, wantErr: ErrFingerprintMismatch},
		{name: "answerer key swapped", hello: func(h *seal.Hello) {
			if h.Key != nil {
				k, _ := ecdh.X25519().GenerateKey(rand.Reader)
				h.Key = k.PublicKey().Bytes()
			}
		}, code: CodePossibleMITM, wantErr: ErrPossibleMITM}, // DTLS-bound: the first sealed frame fails
		{name: "bit flipped", tamper: func(b []byte) [][]byte {
			c := append([]byte(nil), b...)
			c[len(c)-1] ^= 1
			return [][]byte{c}
		}, code: CodeSeal, wantErr: seal.ErrAuth},
		{name: "replayed", tamper: func(b []byte) [][]byte { return [][]byte{b, b} }, code: CodeSeal, wantErr: seal.ErrAuth},
		{name: "dropped", tamper: func(b []byte) [][]byte { return nil }, code: CodeSeal, wantErr: seal.ErrAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t, 20*time.Second)
			var mu sync.Mutex
			nbin := map[string]int{}
			hook := func(from, to string, text bool, b []byte) [][]byte {
				if text {
					if tc.hello == nil {
						return [][]byte{b}
					}
					h, err := seal.ParseHello(b)
					if err != nil { // the offerer's reveal
						return [][]byte{b}
					}
					tc.hello(&h)
					out, err := h.Marshal()
					if err != nil {
						t.Errorf("hook: %v", err)
					}
					return [][]byte{out}
				}
				mu.Lock()
				nbin[from]++
				i := nbin[from]
				mu.Unlock()
				if from == "b" && i == tamperAt && tc.tamper != nil {
					return tc.tamper(b)
				}
				return [][]byte{b}
			}
			r := newRelay(t)
			a := newNode(t, r, "a", func(o *Options) { withFrameHook(o, hook) })
			b := newNode(t, r, "b", func(o *Options) { withFrameHook(o, hook) })
			r.join("a", a.n)
			r.join("b", b.n)
			if tc.tamper != nil {
				waitConnected(t, ctx, b)
				for i := 0; i < 10; i++ {
					if err := b.n.Send(ctx, "a", "chat", []byte{byte(i)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			var e Error
			select {
			case e = <-a.c.errs:
			case e = <-b.c.errs:
			case <-ctx.Done():
				t.Fatal("no error event")
			}
			if e.Code != tc.code || !errors.Is(e.Err, tc.wantErr) {
				t.Fatalf("got %s: %v", e.Code, e.Err)
			}
			// Whatever was delivered before the bad frame is an in-order prefix; nothing after.
			n := 0
			for done := false; !done; {
				select {
				case m := <-a.c.msgs:
					if int(m.Body[0]) != n {
						t.Fatalf("message %d delivered as #%d", m.Body[0], n)
					}
					n++
				default:
					done = true
				}
			}
			if n >= 10 {
				t.Fatalf("all %d messages delivered despite tampering", n)
			}
			if tc.hello != nil {
				select {
				case c := <-a.c.connected:
					t.Fatalf("connected after hello tampering: %+v", c)
				default:
				}
			}
		})
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
