package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// TestRelayRecoversAfterPeerLeft: a --via server pair over a real signaling server (pkg/signal
// behind httptest, real websocket clients). One end's signaling connection is cut and kept down
// until the other end has had peer-left for it and dropped its relay transport; then the cut end
// reconnects and resumes its peer id (issue 11: a cluster node killed while the room state's
// leader election delays the rejoin past the dead-node report). The cut end's relay transport is
// still live at its end and it has no reason to offer; the surviving end saw it leave. The relay
// session must come back — the same SAS, no SASChanged — and every message sent before, during
// the gap (by the survivor, and in the "both" cases by the cut end too, whose send then fails)
// and after must arrive exactly once, in order, both ways. Before the fix nobody offered a new
// relay transport and the session stayed down.
func TestRelayRecoversAfterPeerLeft(t *testing.T) {
	t.Parallel()
	viaServer := func(o *Options) { o.Via = ViaServer }
	// auto, on the relay: ICE cannot work (relay candidates only, no TURN server), so the ICE
	// offerer starts the relay transport after P2PTimeout.
	autoOnRelay := func(o *Options) { o.P2PTimeout = 200 * time.Millisecond; withRelayFirst(o) }
	for _, tc := range []struct {
		name       string
		via        func(*Options)
		cutOfferer bool // cut the end that offered the relay transport (it joined second)
		cutSends   bool // the cut end sends during the gap as well
	}{
		{"cut offerer, survivor sends", viaServer, true, false},
		{"cut answerer, survivor sends", viaServer, false, false},
		{"cut offerer, both send", viaServer, true, true},
		{"cut answerer, both send", viaServer, false, true},
		{"auto on the relay, cut offerer, survivor sends", autoOnRelay, true, false},
		{"auto on the relay, cut answerer, survivor sends", autoOnRelay, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t, 90*time.Second)
			srv := newSigServer(t)
			first := srv.member(t, ctx, "peer-aaaaaaaa", tc.via)
			second := srv.member(t, ctx, "peer-bbbbbbbb", tc.via) // joins later: offers
			connFirst, connSecond := waitConnected(t, ctx, first.tn), waitConnected(t, ctx, second.tn)
			if connFirst.SAS != connSecond.SAS || connFirst.Path != PathServer {
				t.Fatalf("connected %+v / %+v", connFirst, connSecond)
			}
			cut, survivor := first, second
			if tc.cutOfferer {
				cut, survivor = second, first
			}
			var want [2][]string // messages survivor → cut, cut → survivor
			say := func(from, to *sigMember, dir int, text string) {
				t.Helper()
				if err := from.tn.n.Send(ctx, to.id, "chat", []byte(text)); err != nil {
					t.Fatalf("%s: send %q: %v", from.id, text, err)
				}
				want[dir] = append(want[dir], text)
			}
			for i := range 3 {
				say(survivor, cut, 0, fmt.Sprintf("before %d", i))
				say(cut, survivor, 1, fmt.Sprintf("before %d", i))
			}
			for _, m := range []*sigMember{survivor, cut} {
				if err := m.tn.n.WaitAcked(ctx, otherOf(m, survivor, cut).id); err != nil {
					t.Fatalf("%s: %v", m.id, err)
				}
			}

			cut.front.cut()
			select { // the server reports the cut end gone; the survivor drops its relay transport
			case e := <-survivor.tn.c.left:
				if e.Peer != cut.id || e.Reason != "left" {
					t.Fatalf("PeerLeft = %+v", e)
				}
			case <-ctx.Done():
				t.Fatal("the survivor got no PeerLeft for the cut end")
			}
			for i := range 3 {
				say(survivor, cut, 0, fmt.Sprintf("gap %d", i))
				if tc.cutSends {
					say(cut, survivor, 1, fmt.Sprintf("gap %d", i))
				}
			}
			cut.front.restore() // the cut end's client reconnects and resumes its peer id
			select {
			case <-cut.rejoined:
			case <-ctx.Done():
				t.Fatal("the cut end did not rejoin")
			}
			back, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			for _, m := range []*sigMember{survivor, cut} {
				if e := waitConnected(t, back, m.tn); e.SAS != connFirst.SAS || e.Path != PathServer {
					t.Fatalf("%s: reconnected %+v, want SAS %s over the server", m.id, e, connFirst.SAS)
				}
			}
			for i := range 3 {
				say(survivor, cut, 0, fmt.Sprintf("after %d", i))
				say(cut, survivor, 1, fmt.Sprintf("after %d", i))
			}
			for _, d := range []struct {
				to   *sigMember
				from *sigMember
				want []string
			}{{cut, survivor, want[0]}, {survivor, cut, want[1]}} {
				for _, w := range d.want {
					select {
					case m := <-d.to.tn.c.msgs:
						if m.Peer != d.from.id || string(m.Body) != w {
							t.Fatalf("%s got %q from %s, want %q (nothing lost, repeated or reordered)", d.to.id, m.Body, m.Peer, w)
						}
					case <-ctx.Done():
						t.Fatalf("%s: no message %q", d.to.id, w)
					}
				}
			}
			for _, m := range []*sigMember{survivor, cut} {
				if err := m.tn.n.WaitAcked(ctx, otherOf(m, survivor, cut).id); err != nil {
					t.Fatalf("%s: %v", m.id, err)
				}
			}
			for _, m := range []*sigMember{survivor, cut} {
				select {
				case e := <-m.tn.c.msgs:
					t.Fatalf("%s: extra message %q", m.id, e.Body)
				case e := <-m.tn.c.changed:
					t.Fatalf("%s: the session did not continue: %+v", m.id, e)
				case e := <-m.tn.c.errs:
					t.Fatalf("%s: error %s: %v", m.id, e.Code, e.Err)
				default:
				}
			}
		})
	}
}

func otherOf(m, a, b *sigMember) *sigMember {
	if m == a {
		return b
	}
	return a
}

// sigServer is a real signaling server on loopback; each member reaches it through its own
// front (an httptest server on the same handler) whose connections the test can cut.
type sigServer struct {
	s *signal.Server
}

func newSigServer(t *testing.T) *sigServer {
	t.Helper()
	s, err := signal.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("signal server close: %v", err)
		}
	})
	return &sigServer{s: s}
}

// sigMember is a Node wired to a signal.Client the way cmd/vtpeer wires them (room.go).
type sigMember struct {
	id       string
	tn       *testNode
	client   *signal.Client
	front    *cutListener
	rejoined chan struct{} // a joined frame after a reconnection
}

// member starts a front, dials it, creates the Node, joins the room and feeds the Node every
// signaling frame until the test ends.
func (s *sigServer) member(t *testing.T, ctx context.Context, id string, mod func(*Options)) *sigMember {
	t.Helper()
	hs := httptest.NewUnstartedServer(s.s)
	front := &cutListener{Listener: hs.Listener}
	hs.Listener = front
	hs.Start()
	t.Cleanup(hs.Close) // after the member's own cleanup (LIFO)
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	client, err := signal.Dial(ctx, url, &signal.ClientOptions{PeerID: id, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	o := withLoopback(&Options{Room: "test-room", Signaler: clientSignaler{client}, Logger: debugLogger(t.Name() + "/" + id)})
	if mod != nil {
		mod(o)
	}
	n, err := New(o)
	if err != nil {
		_ = client.Close()
		t.Fatal(err)
	}
	m := &sigMember{id: id, tn: &testNode{id: id, n: n, c: collect(n)}, client: client, front: front, rejoined: make(chan struct{}, 16)}
	loopCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		_ = client.Close()
		wg.Wait()
		_ = n.Close()
		<-m.tn.c.done
	})
	joined, err := client.Join(ctx, "test-room")
	if err != nil {
		t.Fatal(err)
	}
	if joined.PeerID != id {
		t.Fatalf("joined as %q, want %q", joined.PeerID, id)
	}
	n.Joined(loopCtx, joined.PeerID, joined.Peers, nil)
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.loop(t, loopCtx)
	}()
	return m
}

// loop hands the Node every frame, as cmd/vtpeer's membership.handleFrame does.
func (m *sigMember) loop(t *testing.T, ctx context.Context) {
	for {
		f, err := m.client.Recv(ctx)
		if err != nil {
			return
		}
		switch f.Type {
		case signal.TypeJoined:
			m.tn.n.Joined(ctx, f.PeerID, f.Peers, nil)
			m.rejoined <- struct{}{}
		case signal.TypePeerJoined:
			m.tn.n.PeerJoined(f.PeerID)
		case signal.TypePeerLeft:
			m.tn.n.PeerLeft(f.PeerID)
		case signal.TypeReconnecting, signal.TypeError: // a lost link; a frame to a peer that is gone
			t.Logf("%s: %s %s %s", m.id, f.Type, f.Code, f.Error)
		default:
			if f.From == "" {
				continue
			}
			err := m.tn.n.HandleSignal(ctx, f.From, f.Type, f.Data)
			switch {
			case err == nil, errors.Is(err, ErrClosed):
			case errors.Is(err, ErrIgnoredSignal):
				t.Logf("%s: ignored %s from %s: %v", m.id, f.Type, f.From, err)
			default:
				t.Errorf("%s: refused %s from %s: %v", m.id, f.Type, f.From, err)
			}
		}
	}
}

// clientSignaler adapts signal.Client to Signaler (cmd/vtpeer's signaler).
type clientSignaler struct{ c *signal.Client }

func (s clientSignaler) Signal(ctx context.Context, to, typ string, data json.RawMessage) error {
	return s.c.Send(ctx, signal.Frame{Type: typ, To: to, Data: data})
}

// cutListener lets the test cut every connection accepted so far (as a node's death does) and
// refuse new ones until restore.
type cutListener struct {
	net.Listener
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func (l *cutListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		down := l.down
		if !down {
			l.conns = append(l.conns, c)
		}
		l.mu.Unlock()
		if !down {
			return c, nil
		}
		_ = c.Close()
	}
}

func (l *cutListener) cut() {
	l.mu.Lock()
	l.down = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (l *cutListener) restore() {
	l.mu.Lock()
	l.down = false
	l.mu.Unlock()
}
