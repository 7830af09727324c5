package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// takeRecorder is the MailStore a Server uses, recording how each Take
// went; the mail is the real MailStore's.
type takeRecorder struct {
	*MailStore
	mu    sync.Mutex
	takes map[string][]error // by mailbox id, in order
}

func (r *takeRecorder) Take(room, mailboxID string) ([][]byte, error) {
	blobs, err := r.MailStore.Take(room, mailboxID)
	r.mu.Lock()
	r.takes[mailboxID] = append(r.takes[mailboxID], err)
	r.mu.Unlock()
	return blobs, err
}

func (r *takeRecorder) of(mailboxID string) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.takes[mailboxID]...)
}

// TestMailHandOverRetried: three NATS nodes; the mail stream's leader is
// in a process of its own, killed with SIGKILL after mail was deposited
// for two mailboxes. Right after the kill, during the election of a new
// stream leader, member A joins a survivor with its mailbox id (the room
// bucket's leader is on that survivor, so the join gets in) and B joins
// and leaves at once. The survivor cannot read the stream: A's first
// hand-over fails, and its mail must reach it on the same connection once
// the stream answers, with no other join (before: it waited for A's next
// join). B, gone, is not retried for: its mail stays in the stream and is
// handed over at its next join, once.
func TestMailHandOverRetried(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	child, _, live := nodesBesideChild(ctx, t, "m")
	nc, err := live[0].Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	prefix := newPrefix()
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	cl, err := New(ctx, nc, &Options{Prefix: prefix, Replicas: 3, NodeID: "m0", Logger: log.With("component", "cluster")})
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	ms, err := NewMailStore(ctx, nc, &MailOptions{Prefix: prefix, Replicas: 3, Logger: log.With("component", "mail")})
	if err != nil {
		t.Fatalf("NewMailStore: %v", err)
	}
	moveStreamLeader(ctx, t, nc, prefix+"-mail", "m2")
	moveStreamLeader(ctx, t, nc, "KV_"+prefix+"-rooms", "m0")
	for box, text := range map[string]string{boxA: "for A", boxB: "for B"} {
		if err := ms.Put("r", box, []byte(text)); err != nil {
			t.Fatalf("deposit for %s: %v", box, err)
		}
	}
	rec := &takeRecorder{MailStore: ms, takes: map[string][]error{}}
	url := startServer(t, &signal.ServerOptions{Cluster: cl, Mail: rec, Logger: log.With("component", "signal")})

	killed := time.Now()
	if err := child.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	join := func(box string) *websocket.Conn {
		t.Helper()
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ws.CloseNow() })
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"r","mailbox":"`+box+`"}`)); err != nil {
			t.Fatal(err)
		}
		if f := readFrame(ctx, t, ws); f.Type != signal.TypeJoined {
			t.Fatalf("join %v after the kill answered %+v", time.Since(killed).Round(time.Millisecond), f)
		}
		return ws
	}
	a := join(boxA)
	b := join(boxB)
	_ = b.CloseNow() // B leaves while its hand-over waits for the stream

	// A's mail arrives on A's connection: no other join.
	for {
		f := readFrame(ctx, t, a)
		if f.Type == signal.TypePeerJoined || f.Type == signal.TypePeerLeft {
			continue // B came and went
		}
		if got := mailText(t, f); got != "for A" {
			t.Fatalf("A got %+v (%q), want its mail", f, got)
		}
		break
	}
	t.Logf("A's mail handed over %v after the kill", time.Since(killed).Round(time.Millisecond))
	takes := rec.of(boxA)
	if len(takes) < 2 || !errors.Is(takes[0], signal.ErrUnavailable) || takes[len(takes)-1] != nil {
		t.Fatalf("A's hand-overs: %v, want one or more failing while the stream elects its leader, then one that worked", takes)
	}

	// B's mail waited in the stream: B's next join gets it, once.
	b = join(boxB)
	for {
		f := readFrame(ctx, t, b)
		if f.Type == signal.TypePeerJoined || f.Type == signal.TypePeerLeft {
			continue
		}
		if got := mailText(t, f); got != "for B" {
			t.Fatalf("B got %+v (%q), want its mail", f, got)
		}
		break
	}
	// B's mailbox was read at its two joins only (the first one's read
	// ended, failing, long before A's mail could be read).
	if takes := rec.of(boxB); len(takes) != 2 || !errors.Is(takes[0], signal.ErrUnavailable) || takes[1] != nil {
		t.Errorf("B's hand-overs: %v, want the failing one of its first join and the one of its second", takes)
	}
	if blobs, err := ms.Take("r", boxB); err != nil || len(blobs) != 0 {
		t.Fatalf("B's mailbox after the hand-over: %q, %v; want it empty", blobs, err)
	}
}

// readFrame reads one frame from ws under ctx.
func readFrame(ctx context.Context, t *testing.T, ws *websocket.Conn) signal.Frame {
	t.Helper()
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var f signal.Frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("server sent invalid JSON %q: %v", b, err)
	}
	return f
}

// mailText is the blob of mail frame f, as text ("" if f is not mail).
func mailText(t *testing.T, f signal.Frame) string {
	t.Helper()
	if f.Type != signal.TypeMail {
		return ""
	}
	var blob []byte
	if err := json.Unmarshal(f.Data, &blob); err != nil {
		t.Fatalf("mail data %s: %v", f.Data, err)
	}
	return strings.TrimSpace(string(blob))
}
