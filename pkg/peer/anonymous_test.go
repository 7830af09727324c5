package peer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

// nextMsg returns tn's next message, failing the test when none comes before ctx ends.
func nextMsg(t *testing.T, ctx context.Context, tn *testNode) Message {
	t.Helper()
	select {
	case m := <-tn.c.msgs:
		return m
	case <-ctx.Done():
		t.Fatalf("%s: no message: %v", tn.id, ctx.Err())
	}
	return Message{}
}

// rejoinForger is a hostile signaling server for TestForgedRejoinAnonymousImpostor: it stops
// carrying relay frames between a and b (b's acknowledgements never arrive), then tells a that b
// left and rejoined, and routes "b" to the impostor m from then on.
type rejoinForger struct {
	mu      sync.Mutex
	cut     bool // drop relay frames between a and b
	spliced bool // a's "b" is m
}

func (f *rejoinForger) intercept(from, to, typ string, data json.RawMessage) (string, string, json.RawMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.spliced && from == "m" && to == "a":
		return "b", "a", data, true
	case f.spliced && from == "a" && to == "b":
		return "a", "m", data, true
	case f.spliced && (from == "b" || to == "b"):
		return from, to, data, false // the real b is hidden
	case f.cut && typ == SignalRelay && (from == "a" && to == "b" || from == "b" && to == "a"):
		return from, to, data, false
	}
	return from, to, data, true
}

func (f *rejoinForger) set(cut, spliced bool) {
	f.mu.Lock()
	f.cut, f.spliced = cut, spliced
	f.mu.Unlock()
}

// TestForgedRejoinAnonymousImpostor: a and b, anonymous, have a verified session over the server
// relay; a's last messages are unacknowledged when the signaling server forges b's peer-left and a
// rejoin, and splices in an impostor m as "b". The impostor gets a new session (a new SAS,
// announced by SASChanged) but none of the earlier session's messages: a reports them as
// Undelivered (sas_changed, dropped) before the new session's PeerConnected, and the first message
// m receives is one a sent after that.
func TestForgedRejoinAnonymousImpostor(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 40*time.Second)
	r := newRelay(t)
	f := &rejoinForger{}
	r.setIntercept(f.intercept)
	a := newNode(t, r, "a", viaServer)
	b := newNode(t, r, "b", viaServer)
	m := newNode(t, r, "m", viaServer)
	r.join("a", a.n)
	r.join("b", b.n)
	first := waitConnected(t, ctx, a)
	waitConnected(t, ctx, b)
	exchange(t, ctx, a, b, 5, 10, nil)

	f.set(true, false)
	const secrets = 3
	for i := 0; i < secrets; i++ {
		if err := a.n.Send(ctx, "b", "chat", []byte(fmt.Sprintf("secret %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	f.set(true, true)
	r.attach("m", m.n)
	a.n.PeerLeft("b") // forged
	select {
	case e := <-a.c.left:
		if e.Peer != "b" {
			t.Fatalf("left %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("a: no PeerLeft")
	}
	select {
	case u := <-a.c.undeliv:
		if u.Reason != UndeliveredLeft || u.Count != secrets || u.Dropped {
			t.Fatalf("on leave: %+v", u)
		}
	case <-ctx.Done():
		t.Fatal("a: no Undelivered on leave")
	}
	a.n.PeerJoined("b")                      // forged rejoin ...
	m.n.Joined(ctx, "m", []string{"a"}, nil) // ... by the impostor, which offers
	second := waitConnected(t, ctx, a)       // a session with m: nothing can tell, but the SAS
	if second.SAS == first.SAS {
		t.Fatalf("the impostor's session shows the verified SAS %s", first.SAS)
	}
	select {
	case ch := <-a.c.changed:
		if ch.Old != first.SAS || ch.New != second.SAS {
			t.Fatalf("SASChanged %+v", ch)
		}
	default:
		t.Fatal("a: no SASChanged before PeerConnected")
	}
	select {
	case u := <-a.c.undeliv:
		if u.Peer != "b" || u.Count != secrets || u.Reason != UndeliveredSASChanged || !u.Dropped {
			t.Fatalf("a: %+v", u)
		}
	default:
		t.Fatal("a: no Undelivered (sas_changed) before PeerConnected")
	}
	if err := a.n.Send(ctx, "b", "chat", []byte("after")); err != nil {
		t.Fatal(err)
	}
	if msg := nextMsg(t, ctx, m); string(msg.Body) != "after" {
		t.Fatalf("the impostor received %q, an unacknowledged message of the verified session", msg.Body)
	}
	if err := a.n.WaitAcked(ctx, "b"); err != nil {
		t.Fatal(err)
	}

	// The server lets the real b back; the users /retry on both sides. Same two processes, a new
	// session (a's chain is now the impostor's): b accepts a's stream from the new base, after
	// the numbers a dropped.
	a.n.PeerLeft("b")
	select {
	case <-a.c.left:
	case <-ctx.Done():
		t.Fatal("a: no PeerLeft for the impostor")
	}
	_ = m.n.Close()
	f.set(false, false)
	// a offers to continue its session at once (PeerJoined after the PeerLeft that closed its
	// relay transport); b refuses to continue a chain that is the impostor's
	// (continuity_failed). Held until both users' Retry: a refusal of an attempt the retry
	// replaced is not reported (it is before it: the user then retries).
	r.setFilter(func(string, string, string, json.RawMessage) (bool, bool) { return false, true })
	a.n.PeerJoined("b")
	for _, n := range []*testNode{a, b} {
		if err := n.n.Retry(map[*testNode]string{a: "b", b: "a"}[n]); err != nil {
			t.Fatal(err)
		}
	}
	r.release()
	// Three attempts cross (a's offer on the rejoin, a's and b's Retry): a short-lived session
	// may come up on one side before the lower id's later offer replaces it, and the impostor's
	// session may have renegotiated its transport before it ended (a PeerConnected of that
	// session). The two ends must settle on one new session.
	sasA, sasB := waitConnected(t, ctx, a).SAS, waitConnected(t, ctx, b).SAS
	for sasA != sasB || sasA == second.SAS {
		select {
		case e := <-a.c.connected:
			sasA = e.SAS
		case e := <-b.c.connected:
			sasB = e.SAS
		case <-ctx.Done():
			t.Fatalf("the two ends never settled on one session: a %s, b %s (impostor's %s)", sasA, sasB, second.SAS)
		}
	}
	if sasA == first.SAS {
		t.Fatalf("a's new session shows the first one's SAS %s", sasA)
	}
	exchange(t, ctx, a, b, 5, 10, nil)
	exchange(t, ctx, b, a, 5, 10, nil)
}
