package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestChannel opens an extra DataChannel beside the session: both ends export the same key,
// bulk messages arrive in order and complete, a session message is not held up behind them, and
// closing one end closes the other.
func TestChannel(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	_, a, b := pair(t, ctx, nil, nil)
	const label = ChannelLabelPrefix + "file/test"
	ca, cb := openChannelPair(t, ctx, a, b, label)
	ka, err := ca.ExportKey("x", []byte("ctx"), 32)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := cb.ExportKey("x", []byte("ctx"), 32)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ka, kb) {
		t.Fatal("the two ends export different keys")
	}
	const n, size = 600, 32 << 10 // 19 MiB: well beyond the send buffer's high water mark
	go func() {
		for i := range n {
			if err := cb.Send(ctx, bytes.Repeat([]byte{byte(i)}, size)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	// A session message sent while the channel is busy arrives on the session meanwhile.
	if err := b.n.Send(ctx, "a", "chat", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m, err := ca.Recv(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if len(m) != size || m[0] != byte(i) || m[size-1] != byte(i) {
			t.Fatalf("message %d: %d bytes starting %d", i, len(m), m[0])
		}
		if i == 0 {
			select {
			case msg := <-a.c.msgs:
				if string(msg.Body) != "hello" {
					t.Fatalf("got %q", msg.Body)
				}
			case <-ctx.Done():
				t.Fatal("the session message did not arrive")
			}
		}
	}
	_ = cb.Close()
	if _, err := ca.Recv(ctx); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("after the peer closed: %v", err)
	}
	if err := cb.Send(ctx, []byte("x")); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

// TestChannelClosedBeforeAccept: the opener sends and closes before the peer calls
// AcceptChannel (a one-chunk file: the chunk and the close can come before the FileStart that
// names the channel). The channel waits with what it holds: AcceptChannel takes it, Recv returns
// the messages and then ErrChannelClosed. A channel opened again with the label replaces the
// closed one.
func TestChannelClosedBeforeAccept(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	_, a, b := pair(t, ctx, nil, nil)
	const label = ChannelLabelPrefix + "file/early"
	var prev *Channel
	for round := range 2 {
		cb, err := b.n.OpenChannel(ctx, "a", label)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := cb.Send(ctx, []byte{byte(round), byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		_ = cb.Close()
		// Wait until a's end saw the close while nobody accepted it.
		seen := false
		tick := time.NewTicker(2 * time.Millisecond)
		wait, cancel := context.WithTimeout(ctx, 15*time.Second)
		for {
			c := a.n.parkedChannel("b", label)
			if c == prev {
				c = nil // round 0's, not replaced yet
			}
			if c == nil && seen {
				t.Fatalf("round %d: the closed channel was dropped before anyone accepted it", round)
			}
			if c != nil && c.isDone() {
				prev = c
				break
			}
			seen = seen || c != nil
			select {
			case <-tick.C:
			case <-wait.Done():
				t.Fatalf("round %d: no closed channel waits to be accepted (dropped?): %v", round, wait.Err())
			}
		}
		tick.Stop()
		cancel()
		if round == 0 {
			continue // round 1 opens the label again: the new channel replaces this one
		}
		ca, err := a.n.AcceptChannel(ctx, "b", label)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			m, err := ca.Recv(ctx)
			if err != nil || !bytes.Equal(m, []byte{byte(round), byte(i)}) {
				t.Fatalf("message %d: %x, %v", i, m, err)
			}
		}
		if _, err := ca.Recv(ctx); !errors.Is(err, ErrChannelClosed) {
			t.Fatalf("after the messages: %v", err)
		}
	}
}

func TestChannelRefused(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	_, a, b := pair(t, ctx, nil, func(o *Options) {})
	for _, tc := range []struct {
		peer, label string
		want        error
	}{
		{"a", "file/x", ErrChannelLabel},
		{"a", ChannelLabelPrefix + string(bytes.Repeat([]byte("x"), MaxChannelLabel)), ErrChannelLabel},
		{"nobody", ChannelLabelPrefix + "x", ErrUnknownPeer},
	} {
		t.Run(fmt.Sprintf("%s/%.20s", tc.peer, tc.label), func(t *testing.T) {
			if _, err := b.n.OpenChannel(ctx, tc.peer, tc.label); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	// Nobody opens it: AcceptChannel ends with its ctx.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := a.n.AcceptChannel(short, "b", ChannelLabelPrefix+"never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("accept: %v", err)
	}
}

// TestChannelServerRelay: over the server relay there is no PeerConnection to open it on.
func TestChannelServerRelay(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	via := func(o *Options) { o.Via = ViaServer }
	_, _, b := pair(t, ctx, via, via)
	if _, err := b.n.OpenChannel(ctx, "a", ChannelLabelPrefix+"x"); !errors.Is(err, ErrNoChannel) {
		t.Fatalf("err %v, want ErrNoChannel", err)
	}
}

// openChannelPair has b open an extra channel labelled label to a, and a accept it: a's end
// first, b's second.
func openChannelPair(t *testing.T, ctx context.Context, a, b *testNode, label string) (ca, cb *Channel) {
	t.Helper()
	accepted := make(chan *Channel, 1)
	go func() {
		c, err := a.n.AcceptChannel(ctx, "b", label)
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	cb, err := b.n.OpenChannel(ctx, "a", label)
	if err != nil {
		t.Fatal(err)
	}
	ca = <-accepted
	if ca == nil {
		t.FailNow()
	}
	return ca, cb
}
