package peer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestConnectSASAndIdentity(t *testing.T) {
	t.Parallel()
	const addrA, addrB = "0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222"
	tests := []struct {
		name         string
		modA, modB   func(*Options)
		wantA, wantB string // addresses each side sees for the other
	}{
		{name: "anonymous"},
		{
			name: "identities proven",
			modA: func(o *Options) {
				o.Identity, o.VerifyIdentity = fakeStaticIdentity{fakeIdentity{addrA}, bytes.Repeat([]byte{7}, 32)}, fakeVerify
			},
			modB: func(o *Options) {
				o.Identity, o.VerifyIdentity, o.ExpectAddress = fakeIdentity{addrB}, fakeVerify, addrA
			},
			wantA: addrB, wantB: addrA,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t, 20*time.Second)
			r := newRelay(t)
			a := newNode(t, r, "a", tc.modA)
			b := newNode(t, r, "b", tc.modB)
			r.join("a", a.n)
			r.join("b", b.n)
			ea, eb := waitConnected(t, ctx, a), waitConnected(t, ctx, b)
			if ea.SAS == "" || ea.SAS != eb.SAS {
				t.Fatalf("SAS differ: %q vs %q", ea.SAS, eb.SAS)
			}
			if ea.Peer != "b" || eb.Peer != "a" {
				t.Fatalf("peers: %q %q", ea.Peer, eb.Peer)
			}
			if ea.Address != tc.wantA || eb.Address != tc.wantB {
				t.Fatalf("addresses: a sees %q, b sees %q", ea.Address, eb.Address)
			}
			if (eb.Address != "") != (len(eb.StaticKey) == 32) || len(ea.StaticKey) != 0 {
				t.Fatalf("static keys: a sees %x, b sees %x", ea.StaticKey, eb.StaticKey)
			}
			if ea.Path != "direct" || ea.CandidateType != "host" {
				t.Fatalf("path %q candidate %q", ea.Path, ea.CandidateType)
			}
			if err := b.n.Send(ctx, "a", "chat", []byte("hi")); err != nil {
				t.Fatal(err)
			}
			m := <-a.c.msgs
			if m.Peer != "b" || m.Kind != "chat" || string(m.Body) != "hi" {
				t.Fatalf("got %+v", m)
			}
			if err := b.n.WaitAcked(ctx, "a"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestExpectAddressMismatchAborts(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 20*time.Second)
	r := newRelay(t)
	a := newNode(t, r, "a", func(o *Options) {
		o.Identity, o.VerifyIdentity = fakeIdentity{"0x1111111111111111111111111111111111111111"}, fakeVerify
	})
	b := newNode(t, r, "b", func(o *Options) {
		o.VerifyIdentity, o.ExpectAddress = fakeVerify, "0x3333333333333333333333333333333333333333"
	})
	r.join("a", a.n)
	r.join("b", b.n)
	e := waitError(t, ctx, b)
	if e.Code != CodeIdentityMismatch || !errors.Is(e.Err, ErrIdentityMismatch) {
		t.Fatalf("got %s %v", e.Code, e.Err)
	}
	select {
	case c := <-b.c.connected:
		t.Fatalf("connected despite mismatch: %+v", c)
	default:
	}
}

// sendAll sends count numbered messages and checks the receiver gets each exactly once, in order.
func exchange(t *testing.T, ctx context.Context, from, to *testNode, count, size int, during func(i int)) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		body := make([]byte, size)
		for i := 0; i < count; i++ {
			if during != nil {
				during(i)
			}
			binary.BigEndian.PutUint64(body, uint64(i))
			if err := from.n.Send(ctx, to.id, "chat", body); err != nil {
				errc <- fmt.Errorf("send %d: %w", i, err)
				return
			}
		}
		errc <- from.n.WaitAcked(ctx, to.id)
	}()
	senderDone := errc
	for i := 0; i < count; {
		select {
		case m := <-to.c.msgs:
			if got := binary.BigEndian.Uint64(m.Body); got != uint64(i) || m.Peer != from.id {
				t.Fatalf("message %d: got #%d from %s", i, got, m.Peer)
			}
			i++
		case err := <-senderDone: // all sent and acked; keep receiving
			if err != nil {
				t.Fatal(err)
			}
			senderDone = nil
		case <-ctx.Done():
			t.Fatalf("received %d of %d: %v", i, count, ctx.Err())
		}
	}
	if senderDone != nil {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-to.c.msgs:
		t.Fatalf("extra message %x", m.Body[:8])
	default:
	}
}

func TestTenThousandMessagesExactlyOnceInOrder(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	_, a, b := pair(t, ctx, nil, nil)
	exchange(t, ctx, b, a, 10000, 64, nil)
	exchange(t, ctx, a, b, 10000, 64, nil)
}

func TestThreeNodeMesh(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	r := newRelay(t)
	nodes := []*testNode{newNode(t, r, "a", nil), newNode(t, r, "b", nil), newNode(t, r, "c", nil)}
	for _, tn := range nodes {
		r.join(tn.id, tn.n)
	}
	sas := map[string]string{}
	for _, tn := range nodes {
		for i := 0; i < 2; i++ {
			e := waitConnected(t, ctx, tn)
			key := tn.id + e.Peer
			if tn.id > e.Peer {
				key = e.Peer + tn.id
			}
			if s, ok := sas[key]; ok && s != e.SAS {
				t.Fatalf("pair %s: SAS differ", key)
			}
			sas[key] = e.SAS
		}
	}
	if len(sas) != 3 {
		t.Fatalf("pairs %v", sas)
	}
	for _, from := range nodes {
		for _, to := range nodes {
			if from != to {
				if err := from.n.Send(ctx, to.id, "chat", []byte(from.id+">"+to.id)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, to := range nodes {
		got := map[string]bool{}
		for i := 0; i < 2; i++ {
			m := <-to.c.msgs
			if string(m.Body) != m.Peer+">"+to.id {
				t.Fatalf("%s got %q from %s", to.id, m.Body, m.Peer)
			}
			got[m.Peer] = true
		}
		if len(got) != 2 {
			t.Fatalf("%s got from %v", to.id, got)
		}
	}
	if ps := nodes[0].n.Peers(); len(ps) != 2 || !ps[0].Connected || !ps[1].Connected {
		t.Fatalf("peers %+v", ps)
	}
}

func TestSignalingGoneKeepsDataChannel(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	r, a, b := pair(t, ctx, nil, nil)
	r.setDown(true)
	r.stop()
	exchange(t, ctx, a, b, 500, 100, nil)
	exchange(t, ctx, b, a, 500, 100, nil)
}

func TestOversizedSendRejected(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 20*time.Second)
	direct := func(o *Options) { o.Via = ViaDirect }
	_, a, _ := pair(t, ctx, direct, func(o *Options) { o.Via, o.MaxMessageSize = ViaDirect, 64<<10 })
	// b accepts at most 64 KiB: a must not send more, whatever its own limit.
	if err := a.n.Send(ctx, "b", "bulk", make([]byte, 64<<10)); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("got %v", err)
	}
	if err := a.n.Send(ctx, "b", "bulk", make([]byte, 60<<10)); err != nil {
		t.Fatal(err)
	}
	if err := a.n.Send(ctx, "zz", "bulk", nil); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("got %v", err)
	}
}

func TestTransportTornDownMidStream(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	fast := func(o *Options) {
		withRestartWait(o, time.Second, [3]time.Duration{500 * time.Millisecond, time.Second, 100 * time.Millisecond})
	}
	_, a, b := pair(t, ctx, fast, fast)
	for _, side := range []string{"offerer", "answerer"} {
		victim := b // b offered
		if side == "answerer" {
			victim = a
		}
		other := map[*testNode]string{a: "b", b: "a"}[victim]
		exchange(t, ctx, b, a, 3000, 200, func(i int) {
			if i == 1000 && !victim.n.closeTransport(other) {
				t.Errorf("%s: no transport to close", side)
			}
		})
		// Both sides reconnect (PeerConnected again) and the stream went on.
		if !bytes.Equal([]byte(waitConnected(t, ctx, a).Peer), []byte("b")) {
			t.Fatal("a reconnected to someone else")
		}
		waitConnected(t, ctx, b)
	}
}

// TestPeerProcessRestart: b quits and a new process joins under the same peer id: a new session
// (SASChanged), and the new b's numbering starts afresh. Messages a sent that b never
// acknowledged are delivered to the new b only if it proves the account the old b proved; to an
// anonymous new session they are not resent but reported (Undelivered, UndeliveredSASChanged) and
// dropped: nothing proves that the same party is back (issue 9, item 3's residual risk).
func TestPeerProcessRestart(t *testing.T) {
	t.Parallel()
	const addrB = "0x2222222222222222222222222222222222222222"
	for _, tc := range []struct {
		name    string
		account bool
	}{{"anonymous", false}, {"same account", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t, 40*time.Second)
			modB := func(*Options) {}
			modA := func(o *Options) { o.VerifyIdentity = fakeVerify }
			if tc.account {
				modB = func(o *Options) { o.Identity, o.VerifyIdentity = fakeIdentity{addrB}, fakeVerify }
			}
			r, a, b := pair(t, ctx, modA, modB)
			exchange(t, ctx, b, a, 10, 10, nil)
			r.leave("b")
			_ = b.n.Close()
			e := <-a.c.left
			if e.Peer != "b" {
				t.Fatalf("left %+v", e)
			}
			// Sent while b is away: kept in a's outbox.
			for i := 0; i < 3; i++ {
				if err := a.n.Send(ctx, "b", "chat", []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
			}
			b2 := newNode(t, r, "b", modB)
			r.join("b", b2.n)
			ca := waitConnected(t, ctx, a)
			waitConnected(t, ctx, b2)
			select {
			case ch := <-a.c.changed:
				if ch.New != ca.SAS || ch.Old == "" {
					t.Fatalf("SASChanged %+v, new session's SAS %s", ch, ca.SAS)
				}
			default:
				// The chance that a new session shows the old SAS is 10^-6.
				t.Fatal("a: no SASChanged before the new session's PeerConnected")
			}
			if tc.account {
				for i := 0; i < 3; i++ {
					if m := nextMsg(t, ctx, b2); m.Body[0] != byte(i) {
						t.Fatalf("got %d want %d", m.Body[0], i)
					}
				}
				if err := a.n.WaitAcked(ctx, "b"); err != nil {
					t.Fatal(err)
				}
			} else {
				select {
				case u := <-a.c.undeliv:
					if u.Peer != "b" || u.Count != 3 || u.Reason != UndeliveredSASChanged || !u.Dropped {
						t.Fatalf("a: %+v, want 3 dropped (sas_changed)", u)
					}
				default:
					t.Fatal("a: no Undelivered before the new session's PeerConnected")
				}
				if ps := a.n.Peers(); len(ps) != 1 || ps[0].Unacked != 0 {
					t.Fatalf("a: peers %+v: the dropped messages are still queued", ps)
				}
				// The first message the new b gets is one sent after the new session began.
				if err := a.n.Send(ctx, "b", "chat", []byte("after")); err != nil {
					t.Fatal(err)
				}
				if m := nextMsg(t, ctx, b2); string(m.Body) != "after" {
					t.Fatalf("the new anonymous session received %q from the old one's outbox", m.Body)
				}
			}
			exchange(t, ctx, b2, a, 10, 10, nil)
		})
	}
}

// TestOutboxBoundWithoutTransport: with no live transport Send queues up to MaxOutboxBytes and
// then refuses with ErrOutboxFull instead of growing memory.
func TestOutboxBoundWithoutTransport(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 10*time.Second)
	r := newRelay(t)
	a := newNode(t, r, "a", func(o *Options) { o.MaxOutboxBytes = 1000 })
	a.n.PeerJoined("ghost") // known to signaling, never connects
	if err := a.n.Send(ctx, "ghost", "chat", make([]byte, 600)); err != nil {
		t.Fatal(err)
	}
	if err := a.n.Send(ctx, "ghost", "chat", make([]byte, 600)); !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("got %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := a.n.WaitAcked(short, "ghost"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if ps := a.n.Peers(); len(ps) != 1 || ps[0].Unacked != 1 || ps[0].Connected {
		t.Fatalf("peers %+v", ps)
	}
}
