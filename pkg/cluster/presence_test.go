package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/signal/signaltest"
)

// TestDeadNodeMembersLeave cuts a node off NATS without any member
// leaving (as kill -9 would): within 5 s the member on the other node hears
// peer-left for it, and the cut-off node refuses joins with unavailable
// and answers /readyz with 503.
func TestDeadNodeMembersLeave(t *testing.T) {
	t.Parallel()
	prefix := newPrefix()
	live := newCluster(t, 0, prefix, nil)
	nodes := threeNodes(t)
	nc, err := nodes[1].Connect()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	doomed, err := New(ctx, nc, &Options{Prefix: prefix, Replicas: 3, NodeID: "doomed"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = doomed.Close() })
	urlA := startServer(t, &signal.ServerOptions{Cluster: live})
	sb, err := signal.NewServer(&signal.ServerOptions{Cluster: doomed})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sb)
	t.Cleanup(func() { _ = sb.Close(); hs.Close() })
	urlB := "ws" + strings.TrimPrefix(hs.URL, "http")

	a, b := signaltest.Dial(t, urlA), signaltest.Dial(t, urlB)
	a.Join("r")
	jb := b.Join("r")
	a.Expect(signal.TypePeerJoined, "")

	start := time.Now()
	nc.Close() // the node is gone for the others: no heartbeat, no leave
	if f := a.Expect(signal.TypePeerLeft, ""); f.PeerID != jb.PeerID {
		t.Fatalf("peer-left = %+v", f)
	}
	took := time.Since(start)
	t.Logf("dead node's member reported gone after %v", took)
	if took > 5*time.Second {
		t.Fatalf("peer-left after %v, want within 5s", took)
	}
	if err := doomed.Ready(); !errors.Is(err, signal.ErrUnavailable) {
		t.Fatalf("cut-off node Ready = %v, want ErrUnavailable", err)
	}
	c := signaltest.Dial(t, urlB)
	c.Send(`{"type":"join","room":"r2"}`)
	c.Expect(signal.TypeError, signal.CodeUnavailable)
	rec := httptest.NewRecorder()
	sb.ReadyHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "nats") {
		t.Fatalf("/readyz on the cut-off node = %d %s", rec.Code, rec.Body)
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(appendEnvelope(nil, envelope{rev: 7, room: "r", to: "peer-1234", frame: []byte(`{"type":"x"}`)}))
	f.Add(appendEnvelope(nil, envelope{rev: 1, room: "room", frame: []byte("{}")}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 255, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		again, err := decodeEnvelope(appendEnvelope(nil, e))
		if err != nil || again.rev != e.rev || again.room != e.room || again.to != e.to || string(again.frame) != string(e.frame) {
			t.Fatalf("round trip of %x: %+v, %v", b, again, err)
		}
	})
}

// TestCutOffNodeClosesMembers: a node cut off NATS closes the members it
// holds with 1013 (try again later) within a few seconds, so that they move
// to another node, instead of keeping them in a room the others no longer
// share with it.
func TestCutOffNodeClosesMembers(t *testing.T) {
	t.Parallel()
	prefix := newPrefix()
	nodes := threeNodes(t)
	nc, err := nodes[2].Connect()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	doomed, err := New(ctx, nc, &Options{Prefix: prefix, Replicas: 3, NodeID: "cutoff"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = doomed.Close() })
	url := startServer(t, &signal.ServerOptions{Cluster: doomed})
	b := signaltest.Dial(t, url)
	b.Join("r")
	start := time.Now()
	nc.Close()
	if code := b.ExpectClose(); code != signal.CloseUnavailable {
		t.Fatalf("close code = %d, want %d (CloseUnavailable)", code, signal.CloseUnavailable)
	}
	took := time.Since(start)
	t.Logf("cut-off node closed its member after %v", took)
	if took > 5*time.Second {
		t.Fatalf("member closed after %v, want within 5s", took)
	}
}

// TestLostCluster: when a node decides it has lost its cluster (closing
// its members) and when not. A JetStream leader election after another
// node's death (the bucket silent while the survivors hear each other) is
// not a lost cluster; neither is a silent bucket on the majority side.
func TestLostCluster(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tc := range []struct {
		name      string
		connected bool
		offline   time.Duration // since when disconnected (0: not)
		silent    time.Duration // since when the bucket is silent (0: it answers)
		heard     []time.Duration
		lost      bool
	}{
		{"healthy", true, 0, 0, []time.Duration{time.Second, time.Second}, false},
		{"election after a death: bucket silent 8 s, one survivor heard", true, 0, 8 * time.Second, []time.Duration{100 * time.Millisecond, 8 * time.Second}, false},
		{"long silence on the majority side", true, 0, 13 * time.Second, []time.Duration{100 * time.Millisecond, 13 * time.Second}, false},
		{"long silence on the minority side", true, 0, 13 * time.Second, []time.Duration{100 * time.Millisecond, 13 * time.Second, 13 * time.Second, 13 * time.Second}, true},
		{"cut off: bucket silent, no other node heard", true, 0, 2 * time.Second, []time.Duration{3 * time.Second, 4 * time.Second}, true},
		{"the others dead, the bucket answering: this node is the cluster", true, 0, 0, []time.Duration{5 * time.Second}, false},
		{"disconnected from nats", false, 2 * time.Second, 0, []time.Duration{time.Second}, true},
		{"disconnected briefly", false, time.Second, 0, []time.Duration{time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := (&Options{NodeID: "me"}).withDefaults()
			c := &Cluster{opts: o, log: o.Logger, seen: map[string]time.Time{"me": now}}
			for i, d := range tc.heard {
				c.seen[fmt.Sprintf("n%d", i)] = ago(d)
			}
			if tc.offline > 0 {
				c.offlineSince = ago(tc.offline)
			}
			if tc.silent > 0 {
				c.silentSince = ago(tc.silent)
			}
			err := c.lostLocked(now, tc.connected)
			if (err != nil) != tc.lost {
				t.Fatalf("lost = %v, want lost %v", err, tc.lost)
			}
			if err != nil && !errors.Is(err, signal.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if again := c.lostLocked(now, tc.connected); again != nil {
				t.Fatalf("lost told twice in one episode: %v", again)
			}
		})
	}
}
