package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// splicer is a hostile signaling server: it forwards between a and b until splice, then hides b
// from a and a from b and hands both to the impostor m, a third real Node that runs its own
// handshakes with each side (m thinks it talks to peers "a" and "b"; a and b think m is each
// other).
type splicer struct {
	mu      sync.Mutex
	spliced bool
	gen     map[string]uint64 // last relay gen seen from each real peer
	flip    bool              // flip a bit in the next sealed relay frame between a and b, then splice
	forged  [2]string         // from, to of a frame the server forges (sent as from == to)
	keep    uint64            // relay frames of this gen between a and b still pass (0: none)
}

// forge sends data to `to` as if `from` had sent it, bypassing the splice.
func (s *splicer) forge(t *testing.T, r *relay, from, to, typ string, data json.RawMessage) {
	t.Helper()
	s.mu.Lock()
	s.forged = [2]string{from, to}
	s.mu.Unlock()
	if err := r.send(to, to, typ, data); err != nil {
		t.Fatal(err)
	}
}

func (s *splicer) intercept(from, to, typ string, data json.RawMessage) (string, string, json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if typ == SignalRelay && (from == "a" || from == "b") && (to == "a" || to == "b") {
		if d, err := decodeRelayData(data); err == nil {
			s.gen[from] = d.Gen
			if s.keep != 0 && d.Gen == s.keep && from != to {
				return from, to, data, true // the verified transport is left alone
			}
			if s.flip && d.T == relaySealed && from == "b" {
				s.flip = false
				d.body[len(d.body)/2] ^= 0x10
				out, err := encodeRelayData(d.Gen, d.T, d.body)
				if err != nil {
					panic(err)
				}
				s.spliced = true // this frame still reaches its real destination; the next do not
				return from, to, out, true
			}
		}
	}
	if !s.spliced {
		return from, to, data, true
	}
	if from == to { // injected by the server itself (forge)
		return s.forged[0], s.forged[1], data, true
	}
	switch {
	case from == "m" && to == "a":
		return "b", "a", data, true
	case from == "m" && to == "b":
		return "a", "b", data, true
	case to == "a" || to == "b": // a real peer's frame for the other: to the impostor
		return from, "m", data, true
	}
	return from, to, data, true
}

func (s *splicer) splice() { s.mu.Lock(); s.spliced = true; s.mu.Unlock() }

func (s *splicer) lastGen(from string) uint64 { s.mu.Lock(); defer s.mu.Unlock(); return s.gen[from] }

// TestTakeoverByForcedRehandshake: a verified session between a and b; the signaling server
// forces a new transport (four ways) and splices in an impostor that handshakes with both. The
// impostor must get nothing: no plaintext, no acks accepted, no second PeerConnected or
// PathChanged with a new SAS, and both real peers report continuity_failed. Where the verified
// transport is still alive (a new relay hello or offer: the impostor's transport waits beside it
// as a candidate; a forged close is ignored) the session goes on over it: the same gen carries
// messages both ways afterwards, with no Retry. Where it really died (a flipped bit), nothing is
// resent to the impostor: a's messages stay unacknowledged.
func TestTakeoverByForcedRehandshake(t *testing.T) {
	t.Parallel()
	const addrA, addrB = "0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222"
	tests := []struct {
		name     string
		via      string
		accounts bool
		dies     bool                                                     // the force kills the verified transport
		force    func(t *testing.T, r *relay, s *splicer, a, b *testNode) // kills the verified transport
	}{
		{name: "relay hello with a larger gen", via: ViaServer},
		{name: "offer with a larger gen", via: ViaAuto},
		{name: "offer with a larger gen, accounts", via: ViaAuto, accounts: true},
		{name: "forged relay close", via: ViaServer, force: func(t *testing.T, r *relay, s *splicer, a, b *testNode) {
			s.splice()
			for _, to := range []string{"a", "b"} {
				from := map[string]string{"a": "b", "b": "a"}[to]
				data, err := encodeRelayData(s.lastGen(from), relayClose, nil)
				if err != nil {
					t.Fatal(err)
				}
				s.forge(t, r, from, to, SignalRelay, data)
			}
		}},
		{name: "flipped bit", via: ViaServer, dies: true, force: func(t *testing.T, r *relay, s *splicer, a, b *testNode) {
			s.mu.Lock()
			s.flip = true
			s.mu.Unlock()
			if err := b.n.Send(context.Background(), "a", "chat", []byte("poke")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t, 90*time.Second)
			r := newRelay(t)
			s := &splicer{gen: map[string]uint64{}}
			r.setIntercept(s.intercept)
			mod := func(addr string) func(*Options) {
				return func(o *Options) {
					o.Via = tc.via
					if tc.accounts {
						o.Identity, o.VerifyIdentity = fakeIdentity{addr}, fakeVerify
					}
				}
			}
			a := newNode(t, r, "a", mod(addrA))
			b := newNode(t, r, "b", mod(addrB))
			m := newNode(t, r, "m", func(o *Options) { o.Via = tc.via })
			r.join("a", a.n)
			r.join("b", b.n)
			ca, cb := waitConnected(t, ctx, a), waitConnected(t, ctx, b)
			if ca.SAS != cb.SAS {
				t.Fatalf("SAS %s vs %s", ca.SAS, cb.SAS)
			}
			exchange(t, ctx, a, b, 5, 10, nil)

			r.attach("m", m.n)
			verified, verifiedB := a.n.activeGen("b"), b.n.activeGen("a")
			if verified == 0 || verified != verifiedB {
				t.Fatalf("active gens %d and %d", verified, verifiedB)
			}
			if !tc.dies && tc.via == ViaServer {
				s.mu.Lock()
				s.keep = verified // the server splices new transports only
				s.mu.Unlock()
			}
			if tc.force != nil {
				tc.force(t, r, s, a, b)
			}
			s.splice()
			if tc.dies {
				waitReplaced(t, ctx, a, "b", verified) // before the impostor offers
			}
			m.n.Joined(ctx, "m", []string{"a", "b"}, nil) // the impostor offers to both sides

			if tc.dies {
				const secrets = 3
				for i := 0; i < secrets; i++ {
					if err := a.n.Send(ctx, "b", "chat", []byte(fmt.Sprintf("secret %d", i))); err != nil {
						t.Fatal(err)
					}
				}
				// a's transport died (the flipped frame did not open); b never heard of it (the
				// server kept a's close), so for b the impostor's transport was a candidate.
				if e := expectContinuityFailed(t, ctx, a, m); errors.Is(e.Err, ErrSessionGoesOn) {
					t.Fatalf("a: %v, but its transport died", e.Err)
				}
				expectContinuityFailed(t, ctx, b, m)
				noPlaintext(t, m)
				for _, p := range a.n.Peers() {
					if p.ID == "b" && p.Unacked != secrets {
						t.Fatalf("a: %d unacknowledged, want %d: the impostor's acks were accepted", p.Unacked, secrets)
					}
				}
				return
			}

			for _, tn := range []*testNode{a, b} {
				if e := expectContinuityFailed(t, ctx, tn, m); !errors.Is(e.Err, ErrSessionGoesOn) {
					t.Fatalf("%s: %v: does not say that the session goes on", tn.id, e.Err)
				}
			}
			// The verified transport goes on, both ways, with no Retry.
			exchange(t, ctx, a, b, 5, 10, nil)
			exchange(t, ctx, b, a, 5, 10, nil)
			if ga, gb := a.n.activeGen("b"), b.n.activeGen("a"); ga != verified || gb != verified {
				t.Fatalf("active gens %d and %d after the attack, want the verified %d", ga, gb, verified)
			}
			for _, tn := range []*testNode{a, b} {
				select {
				case e := <-tn.c.connected:
					t.Fatalf("%s: connected again (SAS %s, address %q)", tn.id, e.SAS, e.Address)
				case e := <-tn.c.paths:
					t.Fatalf("%s: moved: %+v", tn.id, e)
				case e := <-tn.c.left:
					t.Fatalf("%s: %+v", tn.id, e)
				default:
				}
			}
			noPlaintext(t, m)
		})
	}
}

// noPlaintext fails if the impostor received a message.
func noPlaintext(t *testing.T, m *testNode) {
	t.Helper()
	select {
	case msg := <-m.c.msgs:
		t.Fatalf("impostor received plaintext %q", msg.Body)
	default:
	}
}

// expectContinuityFailed waits for tn's continuity_failed error; a PeerConnected or PathChanged
// (a session with the impostor) or a message reaching the impostor fails the test at once.
func expectContinuityFailed(t *testing.T, ctx context.Context, tn, m *testNode) Error {
	t.Helper()
	for {
		select {
		case e := <-tn.c.errs:
			if e.Code == CodeContinuity {
				return e
			}
			t.Logf("%s: error %s: %v", tn.id, e.Code, e.Err)
		case e := <-tn.c.connected:
			t.Fatalf("%s: connected again after the splice (SAS %s, address %q)", tn.id, e.SAS, e.Address)
		case e := <-tn.c.paths:
			t.Fatalf("%s: moved to the impostor: %+v", tn.id, e)
		case msg := <-m.c.msgs:
			t.Fatalf("impostor received plaintext from %s: %q", msg.Peer, msg.Body)
		case <-ctx.Done():
			t.Fatalf("%s: no %s event", tn.id, CodeContinuity)
			return Error{}
		}
	}
}

// waitReplaced waits until n's transport to peer is no longer the one of generation gen.
func waitReplaced(t *testing.T, ctx context.Context, tn *testNode, peer string, gen uint64) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for tn.n.activeGen(peer) == gen {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%s: transport %d to %s still active", tn.id, gen, peer)
		}
	}
}
