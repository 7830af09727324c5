package peer

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/turnserver"
)

// turnServers starts a real TURN server on loopback (relaying to loopback allowed) and returns
// its URLs with credentials.
func turnServers(t *testing.T) []ICEServer {
	t.Helper()
	ts, err := turnserver.New(&turnserver.Options{Addr: "127.0.0.1:0", AllowLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Close() })
	user, pass := ts.Credentials("peer", time.Hour, time.Now())
	return []ICEServer{{URLs: ts.URLs(), Username: user, Credential: pass}}
}

// TestAutoUpgradesTURNToDirect: the session connects over TURN although a direct pair would
// work (the relay won the race); the offerer then tries a direct-only PeerConnection beside it,
// and the live session moves to it — PathChanged turn → direct on both sides, with a stream
// running across the move: nothing lost, duplicated or reordered, same SAS.
func TestAutoUpgradesTURNToDirect(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	servers := turnServers(t)
	r := newRelay(t)
	withTURN := func(o *Options) { o.ICEServers = servers; withRelayFirst(o) }
	a := newNode(t, r, "a", withTURN)
	b := newNode(t, r, "b", withTURN)
	r.join("a", a.n)
	r.join("b", b.n)
	ea, eb := waitConnected(t, ctx, a), waitConnected(t, ctx, b)
	if ea.Path != PathTURN || eb.Path != PathTURN || ea.SAS != eb.SAS {
		t.Fatalf("first transport: a %+v b %+v, want both on turn", ea, eb)
	}
	check := streamDuring(t, ctx, b, a, 2000)
	for _, tn := range []*testNode{a, b} {
		select {
		case e := <-tn.c.paths:
			if e.From != PathTURN || e.To != PathDirect || e.SAS != ea.SAS {
				t.Fatalf("%s: %+v, want turn → direct with SAS %s", tn.id, e, ea.SAS)
			}
		case e := <-tn.c.connected:
			t.Fatalf("%s: PeerConnected instead of PathChanged: %+v", tn.id, e)
		case e := <-tn.c.errs:
			t.Fatalf("%s: error %s: %v", tn.id, e.Code, e.Err)
		case <-ctx.Done():
			t.Fatalf("%s: still on turn: no upgrade to direct", tn.id)
		}
	}
	check()
	exchange(t, ctx, a, b, 200, 100, nil)
	for _, tn := range []*testNode{a, b} {
		if ps := tn.n.Peers(); len(ps) != 1 || ps[0].Path != PathDirect || ps[0].SAS != ea.SAS {
			t.Fatalf("%s: peers %+v", tn.id, ps)
		}
	}
}

// TestUpgradeFailsStaysOnTURN: the direct upgrade cannot connect (the signaling relay drops
// every candidate of it), so the session stays on TURN, keeps working, reports no path change,
// and tries once more only after the ICE retry interval.
func TestUpgradeFailsStaysOnTURN(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	servers := turnServers(t)
	r := newRelay(t)
	var mu sync.Mutex
	var first uint64
	upgradeOffers := 0
	r.setFilter(func(_, _, typ string, data json.RawMessage) (bool, bool) {
		var sp sigPayload
		if json.Unmarshal(data, &sp) != nil || sp.Gen == 0 {
			return false, false
		}
		mu.Lock()
		defer mu.Unlock()
		if first == 0 {
			first = sp.Gen
		}
		if sp.Upgrade {
			upgradeOffers++
		}
		return typ == SignalICE && sp.Gen != first, false
	})
	withTURN := func(o *Options) { o.ICEServers = servers; withRelayFirst(o) }
	a := newNode(t, r, "a", withTURN)
	b := newNode(t, r, "b", withTURN)
	r.join("a", a.n)
	r.join("b", b.n)
	if ea, eb := waitConnected(t, ctx, a), waitConnected(t, ctx, b); ea.Path != PathTURN || eb.Path != PathTURN {
		t.Fatalf("a %+v b %+v", ea, eb)
	}
	// Stream across the whole upgrade attempt (bounded by upgradeTimeout) and beyond it.
	deadline := time.Now().Add(upgradeTimeout + 2*time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		exchange(t, ctx, b, a, 50, 100, nil)
	}
	mu.Lock()
	offers := upgradeOffers
	mu.Unlock()
	if offers != 1 {
		t.Fatalf("%d upgrade offers, want 1 (the second comes after the ICE retry interval)", offers)
	}
	for _, tn := range []*testNode{a, b} {
		select {
		case e := <-tn.c.paths:
			t.Fatalf("%s: %+v", tn.id, e)
		case e := <-tn.c.connected:
			t.Fatalf("%s: PeerConnected again: %+v", tn.id, e)
		default:
		}
		if ps := tn.n.Peers(); len(ps) != 1 || ps[0].Path != PathTURN || !ps[0].Connected {
			t.Fatalf("%s: peers %+v", tn.id, ps)
		}
	}
}
