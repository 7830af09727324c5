package peer

import (
	"encoding/json"
	"testing"
	"time"
)

// TestHandshakeFailuresCountedAndCapped: a server that never lets a handshake finish (it drops
// the answerer's hellos, as a MITM grinding for a SAS aborts its attempts) makes each side count
// the attempts, wait longer between them and stop after 5 until Retry; after Retry on both sides
// and with the server honest again, the peers connect.
func TestHandshakeFailuresCountedAndCapped(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	r := newRelay(t)
	r.setFilter(func(from, _, typ string, data json.RawMessage) (bool, bool) {
		return typ == SignalRelay && from == "a" && relayFrameType(data) == relayHello, false
	})
	fast := func(o *Options) {
		o.Via = ViaServer
		withRestartWait(o, 100*time.Millisecond, [3]time.Duration{time.Second, 2 * time.Second, 200 * time.Millisecond})
		withHandshakeTimers(o, 150*time.Millisecond, 20*time.Millisecond)
	}
	evA, evB := make(chan Event, 256), make(chan Event, 256)
	a := newNodeEvents(t, r, "a", fast, evA)
	b := newNodeEvents(t, r, "b", fast, evB)
	r.join("a", a)
	r.join("b", b)
	for want := 1; want <= handshakeFailureCap; want++ {
		hf := nextHandshakeFailed(t, ctx, evB)
		if hf.Peer != "a" || hf.Count != want || hf.Capped != (want == handshakeFailureCap) || hf.Reason == "" {
			t.Fatalf("b: %+v, want count %d", hf, want)
		}
	}
	r.setFilter(nil)
	for _, n := range []*Node{a, b} {
		if err := n.Retry(map[*Node]string{a: "b", b: "a"}[n]); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []chan Event{evA, evB} {
		for c := false; !c; {
			select {
			case e := <-ch:
				_, c = e.(PeerConnected)
			case <-ctx.Done():
				t.Fatal("not connected after Retry")
			}
		}
	}
}

func nextHandshakeFailed(t *testing.T, ctx interface{ Done() <-chan struct{} }, ch chan Event) HandshakeFailed {
	t.Helper()
	for {
		select {
		case e := <-ch:
			switch e := e.(type) {
			case HandshakeFailed:
				return e
			case PeerConnected:
				t.Fatalf("connected through a server that drops hellos: %+v", e)
			}
		case <-ctx.Done():
			t.Fatal("no handshake-failed event")
		}
	}
}

// newNodeEvents is newNode with every event forwarded to ch.
func newNodeEvents(t *testing.T, r *relay, id string, mod func(*Options), ch chan Event) *Node {
	t.Helper()
	o := withLoopback(&Options{Room: "test-room", Signaler: r.signaler(id), Logger: debugLogger(t.Name() + "/" + id)})
	mod(o)
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range n.Events() {
			select {
			case ch <- e:
			default:
			}
		}
	}()
	t.Cleanup(func() { _ = n.Close(); <-done })
	return n
}

// TestForgedRelayCloseIgnored: a relay close without the session's tag does not end the transport.
func TestForgedRelayCloseIgnored(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	r, a, b := pair(t, ctx, viaServer, viaServer)
	gen := a.n.activeGen("b")
	data, err := encodeRelayData(gen, relayClose, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.send("b", "a", SignalRelay, data); err != nil { // forged by the server
		t.Fatal(err)
	}
	forged, _ := encodeRelayData(gen, relayClose, make([]byte, closeTagSize))
	if err := r.send("b", "a", SignalRelay, forged); err != nil {
		t.Fatal(err)
	}
	exchange(t, ctx, b, a, 3, 10, nil) // delivered after the forged closes, in order
	if g := a.n.activeGen("b"); g != gen {
		t.Fatalf("transport %d replaced by %d after a forged close", gen, g)
	}
}

// TestUndeliveredOnLeave: a peer leaves while messages to it are unacknowledged: PeerLeft is
// followed by Undelivered with their number.
func TestUndeliveredOnLeave(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	r := newRelay(t)
	evA := make(chan Event, 256)
	a := newNodeEvents(t, r, "a", viaServer, evA)
	b := newNode(t, r, "b", viaServer)
	r.join("a", a)
	r.join("b", b.n)
	waitConnected(t, ctx, b)
	for c := false; !c; { // a too: b's start frame must reach it before the filter
		select {
		case e := <-evA:
			_, c = e.(PeerConnected)
		case <-ctx.Done():
			t.Fatal("a: not connected")
		}
	}
	r.setFilter(func(from, _, typ string, data json.RawMessage) (bool, bool) {
		return from == "b" && typ == SignalRelay, false // b's acks never arrive
	})
	for i := 0; i < 3; i++ {
		if err := a.Send(ctx, "b", "chat", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	r.leave("b")
	_ = b.n.Close()
	for {
		select {
		case e := <-evA:
			if u, ok := e.(Undelivered); ok {
				if u.Peer != "b" || u.Count != 3 || u.Reason != UndeliveredLeft || u.Dropped {
					t.Fatalf("%+v", u)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no undelivered event")
		}
	}
}

// TestSASChangedOnRestart: b's process restarts under the same peer id (signaling said it left):
// a new session, whose new SAS is announced with SASChanged before PeerConnected.
func TestSASChangedOnRestart(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	r := newRelay(t)
	evA := make(chan Event, 256)
	a := newNodeEvents(t, r, "a", func(*Options) {}, evA)
	b := newNode(t, r, "b", nil)
	r.join("a", a)
	r.join("b", b.n)
	first := waitConnected(t, ctx, b).SAS
	r.leave("b")
	_ = b.n.Close()
	b2 := newNode(t, r, "b", nil)
	r.join("b", b2.n)
	second := waitConnected(t, ctx, b2).SAS
	var changed *SASChanged
	for {
		select {
		case e := <-evA:
			switch e := e.(type) {
			case SASChanged:
				changed = &e
			case PeerConnected:
				if e.SAS != second {
					continue // the first session's
				}
				if first != second && (changed == nil || changed.Old != first || changed.New != second) {
					t.Fatalf("PeerConnected %s without SASChanged %s -> %s first (%+v)", e.SAS, first, second, changed)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("a: no new session")
		}
	}
}
