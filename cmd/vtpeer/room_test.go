package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/app"
	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/signal"
)

// liveServer is a real signaling server on a loopback port that a test can
// kill and bring back on the same address.
type liveServer struct {
	t    *testing.T
	addr string
	srv  *signal.Server
	hs   *http.Server
	done chan struct{}
}

func startLiveServer(t *testing.T, addr string) *liveServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := signal.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &liveServer{t: t, addr: ln.Addr().String(), srv: srv, hs: &http.Server{Handler: srv}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.hs.Serve(ln)
	}()
	return s
}

// kill drops every connection at once, as a crash would.
func (s *liveServer) kill() {
	_ = s.hs.Close()
	_ = s.srv.Close()
	<-s.done
}

// roomPeer is a membership and its app.Room, with its status updates on a
// channel.
type roomPeer struct {
	ms     *membership
	room   *app.Room
	status chan statusUpdate
}

func joinRoom(ctx context.Context, t *testing.T, url, room string) *roomPeer {
	t.Helper()
	p := &roomPeer{status: make(chan statusUpdate, 16)}
	rs, err := startRoom(ctx, roomConfig{server: url, room: room, loopbackOnly: true,
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		status: func(s statusUpdate) { p.status <- s }})
	if err != nil {
		t.Fatal(err)
	}
	r, err := app.New(&app.Options{Room: room, Node: rs.node, Present: rs.peers})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	p.ms, p.room = rs, r
	t.Cleanup(func() { _ = r.Close(); _ = rs.Close() })
	return p
}

func (p *roomPeer) awaitStatus(ctx context.Context, t *testing.T, kind string) {
	t.Helper()
	for {
		select {
		case s := <-p.status:
			if s.kind == kind {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %q status", kind)
		}
	}
}

// awaitEvent returns the first Room event that match accepts.
func (p *roomPeer) awaitEvent(ctx context.Context, t *testing.T, what string, match func(app.Event) bool) app.Event {
	t.Helper()
	for {
		select {
		case ev := <-p.room.Events():
			if e, ok := ev.(peer.Error); ok {
				t.Fatalf("peer error while waiting for %s: %s %v", what, e.Code, e.Err)
			}
			if match(ev) {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func chatText(ev app.Event) (string, bool) {
	c, ok := ev.(app.Chat)
	return c.Text, ok
}

// TestSignalingServerKilledMidChat: the open DataChannel keeps carrying
// messages while the server is gone, and both peers register again when
// it is back.
func TestSignalingServerKilledMidChat(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startLiveServer(t, "127.0.0.1:0")
	url := "ws://" + srv.addr
	a := joinRoom(ctx, t, url, "crash")
	a.awaitStatus(ctx, t, "joined")
	b := joinRoom(ctx, t, url, "crash")
	b.awaitStatus(ctx, t, "joined")
	ac := a.awaitEvent(ctx, t, "a connected", isPeerConnected).(peer.PeerConnected)
	b.awaitEvent(ctx, t, "b connected", isPeerConnected)

	srv.kill()
	a.awaitStatus(ctx, t, "reconnecting")
	b.awaitStatus(ctx, t, "reconnecting")

	send := func(i int) {
		if err := a.room.Chat(ctx, ac.Peer, fmt.Sprint("msg ", i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	expect := func(i int) {
		want := fmt.Sprint("msg ", i)
		got := b.awaitEvent(ctx, t, want, func(ev app.Event) bool { _, ok := chatText(ev); return ok })
		if text, _ := chatText(got); text != want {
			t.Fatalf("got %q, want %q", text, want)
		}
	}
	for i := range 20 {
		send(i)
	}
	for i := range 20 {
		expect(i)
	}

	srv2 := startLiveServer(t, srv.addr)
	defer srv2.kill()
	a.awaitStatus(ctx, t, "rejoined")
	b.awaitStatus(ctx, t, "rejoined")
	send(20)
	expect(20)
}

func isPeerConnected(ev app.Event) bool { _, ok := ev.(peer.PeerConnected); return ok }

// TestTenThousandMessagesThroughRealServer: two in-process peers signalled
// through a real signaling server on loopback exchange 10,000 messages each
// way, exactly once and in order.
func TestTenThousandMessagesThroughRealServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	srv := startLiveServer(t, "127.0.0.1:0")
	defer srv.kill()
	url := "ws://" + srv.addr
	a := joinRoom(ctx, t, url, "ten-thousand")
	a.awaitStatus(ctx, t, "joined")
	b := joinRoom(ctx, t, url, "ten-thousand")
	ac := a.awaitEvent(ctx, t, "a connected", isPeerConnected).(peer.PeerConnected)
	bc := b.awaitEvent(ctx, t, "b connected", isPeerConnected).(peer.PeerConnected)
	const n = 10000
	stream := func(from, to *roomPeer, toID string) {
		errc := make(chan error, 1)
		go func() {
			for i := range n {
				if err := from.room.Chat(ctx, toID, fmt.Sprint(i)); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		for i := range n {
			ev := to.awaitEvent(ctx, t, fmt.Sprint("message ", i), func(ev app.Event) bool { _, ok := chatText(ev); return ok })
			if text, _ := chatText(ev); text != fmt.Sprint(i) {
				t.Fatalf("message %d arrived as %q: lost, duplicated or reordered", i, text)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	stream(a, b, ac.Peer)
	stream(b, a, bc.Peer)
}
