package signal

import (
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClientJoinSendRecv(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, nil)
	ctx := testCtx(t)
	a, err := Dial(ctx, url, &ClientOptions{PeerID: "alice-0001"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ja, err := a.Join(ctx, "room")
	if err != nil || ja.PeerID != "alice-0001" {
		t.Fatalf("join a: %+v %v", ja, err)
	}
	jb, err := b.Join(ctx, "room")
	if err != nil || len(jb.Peers) != 1 || jb.Peers[0] != "alice-0001" {
		t.Fatalf("join b: %+v %v", jb, err)
	}
	if f, err := a.Recv(ctx); err != nil || f.Type != TypePeerJoined || f.PeerID != jb.PeerID {
		t.Fatalf("a recv: %+v %v", f, err)
	}
	if err := b.Send(ctx, Frame{Type: "offer", To: "alice-0001", Data: []byte(`{"sdp":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	if f, err := a.Recv(ctx); err != nil || f.Type != "offer" || f.From != jb.PeerID || string(f.Data) != `{"sdp":"x"}` {
		t.Fatalf("a recv offer: %+v %v", f, err)
	}
	// a second client asking for alice's id without the secret is refused.
	c, err := Dial(ctx, url, &ClientOptions{PeerID: "alice-0001"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var se *ServerError
	if _, err := c.Join(ctx, "room"); !errors.Is(err, ErrJoinRefused) || !errors.As(err, &se) || se.Code != CodePeerIDTaken {
		t.Fatalf("join c: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Recv(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
	if err := a.Send(ctx, Frame{Type: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

// TestClientReconnect cuts the client's TCP connection under the server and
// checks that the client reports it, reconnects and gets its peer id back
// even though the server may not have noticed the old socket died.
func TestClientReconnect(t *testing.T) {
	t.Parallel()
	s, err := NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	track := &connTracker{ch: make(chan net.Conn, 8)}
	hs := httptest.NewUnstartedServer(s)
	hs.Config.ConnContext = track.connContext
	hs.Start()
	defer hs.Close()
	defer s.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	ctx := testCtx(t)

	watcher := dialRaw(t, url, nil)
	<-track.ch
	watcher.join("room")
	c, err := Dial(ctx, url, &ClientOptions{MinBackoff: 1e6, MaxBackoff: 1e7})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, err := c.Join(ctx, "room")
	if err != nil {
		t.Fatal(err)
	}
	watcher.expect(TypePeerJoined, "")
	(<-track.ch).Close() // the client's connection, server side
	if f, err := c.Recv(ctx); err != nil || f.Type != TypeReconnecting || f.Error == "" {
		t.Fatalf("want reconnecting, got %+v %v", f, err)
	}
	f, err := c.Recv(ctx)
	if err != nil || f.Type != TypeJoined || f.PeerID != first.PeerID {
		t.Fatalf("want joined with %s, got %+v %v", first.PeerID, f, err)
	}
	if err := c.Send(ctx, Frame{Type: "ice", Data: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	for {
		_, g := watcher.recv()
		if g.Type == "ice" {
			if g.From != first.PeerID {
				t.Fatalf("from %q", g.From)
			}
			break
		}
	}
	_ = watcher.ws.CloseNow()
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	if _, err := Dial(ctx, "ws://127.0.0.1:1/", nil); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if _, err := Dial(ctx, "ws://127.0.0.1:1/", &ClientOptions{PeerID: "bad id"}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("bad PeerID: %v", err)
	}
	if _, err := NewServer(&ServerOptions{MaxMembers: 1}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("MaxMembers 1: %v", err)
	}
}
