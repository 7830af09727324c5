package app

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"

	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// newTestSigner is a fresh account in a real keystore (light scrypt),
// unlocked.
func newTestSigner(t testing.TB) *tips.KeySigner {
	t.Helper()
	ks, err := tips.OpenKeystore(filepath.Join(t.TempDir(), "keystore"), true)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := ks.New("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ks.Unlock(context.Background(), addr, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hub is an in-memory signaling server for Nodes in one process: frames
// are delivered in order, each Node's on its own goroutine.
type hub struct {
	mu    sync.Mutex
	nodes map[string]*peer.Node
	qs    map[string]chan hubFrame
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

type hubFrame struct {
	from, typ string
	data      json.RawMessage
}

func newHub(t testing.TB) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hub{nodes: map[string]*peer.Node{}, qs: map[string]chan hubFrame{}, ctx: ctx, stop: cancel}
	t.Cleanup(func() { h.stop(); h.wg.Wait() })
	return h
}

// hubSignaler is one member's peer.Signaler.
type hubSignaler struct {
	h    *hub
	from string
}

// Signal queues one frame for its addressee.
func (s hubSignaler) Signal(ctx context.Context, to, typ string, data json.RawMessage) error {
	s.h.mu.Lock()
	q := s.h.qs[to]
	s.h.mu.Unlock()
	if q == nil {
		return nil // gone: as the server, which answers unknown_peer
	}
	select {
	case q <- hubFrame{from: s.from, typ: typ, data: data}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.h.ctx.Done():
	}
	return nil
}

// node makes a loopback-only Node for member id (identity optional).
func (h *hub) node(t testing.TB, room, id string, identity peer.Identity) *peer.Node {
	t.Helper()
	n, err := peer.New(&peer.Options{Room: room, Signaler: hubSignaler{h, id}, Identity: identity,
		VerifyIdentity: VerifyIdentity, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	q := make(chan hubFrame, 4096)
	h.mu.Lock()
	h.qs[id] = q
	h.mu.Unlock()
	h.wg.Go(func() {
		for {
			select {
			case f := <-q:
				_ = n.HandleSignal(h.ctx, f.from, f.typ, f.data)
			case <-h.ctx.Done():
				return
			}
		}
	})
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// join makes id a member: it learns who is there, and they learn of it.
func (h *hub) join(id string, n *peer.Node) []string {
	h.mu.Lock()
	var present []string
	for other := range h.nodes {
		present = append(present, other)
	}
	h.nodes[id] = n
	h.mu.Unlock()
	n.Joined(h.ctx, id, present, nil)
	for _, other := range present {
		h.nodes[other].PeerJoined(id)
	}
	return present
}

// newLoneRoom is a started Room over a real Node alone in its room, with
// pb and mail as its postbox and inbound mail.
func newLoneRoom(t testing.TB, room string, signer tips.Signer, pb *Postbox, mail <-chan []byte) *Room {
	t.Helper()
	h := newHub(t)
	n := h.node(t, room, "lone", nil)
	h.join("lone", n)
	r, err := New(&Options{Room: room, Node: n, Signer: signer, Postbox: pb, Mail: mail})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// nextEvent returns the Room's next event.
func nextEvent(ctx context.Context, t testing.TB, r *Room) Event {
	t.Helper()
	select {
	case ev, ok := <-r.Events():
		if !ok {
			t.Fatal("events closed")
		}
		return ev
	case <-ctx.Done():
		t.Fatal("no event")
	}
	return nil
}

// await returns the first event of r that match accepts; a peer error
// fails the test.
func await[E any](ctx context.Context, t testing.TB, r *Room, match func(E) bool) E {
	t.Helper()
	for {
		select {
		case ev, ok := <-r.Events():
			if !ok {
				t.Fatal("events closed")
			}
			if e, isErr := ev.(peer.Error); isErr {
				t.Fatalf("peer error %s: %v", e.Code, e.Err)
			}
			if e, ok := ev.(E); ok && (match == nil || match(e)) {
				return e
			}
		case <-ctx.Done():
			var zero E
			t.Fatalf("no %T event", zero)
		}
	}
}

// leave removes id: the others learn that it left.
func (h *hub) leave(id string) {
	h.mu.Lock()
	delete(h.nodes, id)
	delete(h.qs, id)
	var others []*peer.Node
	for _, n := range h.nodes {
		others = append(others, n)
	}
	h.mu.Unlock()
	for _, n := range others {
		n.PeerLeft(id)
	}
}
