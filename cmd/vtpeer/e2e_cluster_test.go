package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/signal/signaltest"
)

// startClusterProcs runs n `vtpeer serve --cluster-listen … --routes …`
// processes routed to each other on loopback and returns them with their
// ws URLs once each listens (they start together: the room bucket needs a
// quorum of them).
func startClusterProcs(ctx context.Context, t *testing.T, n int, extra ...string) ([]*proc, []string) {
	t.Helper()
	var addrs, routes []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		routes = append(routes, "nats://"+ln.Addr().String())
		_ = ln.Close()
	}
	procs := make([]*proc, n)
	for i := range procs {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--no-mailbox",
			"--cluster-listen", addrs[i], "--routes", strings.Join(routes, ",")}, extra...)
		procs[i] = startProc(t, nil, args...)
	}
	urls := make([]string, n)
	for i, p := range procs {
		for urls[i] == "" {
			if m := listenRE.FindStringSubmatch(p.stderr.String()); m != nil {
				urls[i] = "ws://" + m[1]
				break
			}
			select {
			case <-p.done:
				t.Fatalf("serve %d exited: %s", i, p.stderr.String())
			case <-ctx.Done():
				t.Fatalf("serve %d did not listen: %s", i, p.stderr.String())
			case <-p.stderr.notify:
			}
		}
	}
	for _, u := range urls {
		waitReady(ctx, t, u)
	}
	return procs, urls
}

// TestClusterProcesses: three serve processes form a cluster; members on
// different nodes see each other and exchange frames; kill -9 of a node
// is reported as peer-left on the others within 5 s; its member resumes
// its peer id on another node.
func TestClusterProcesses(t *testing.T) {
	t.Parallel()
	vtpeerBin(t) // build before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	procs, urls := startClusterProcs(ctx, t, 3)

	a, b := signaltest.Dial(t, urls[0]), signaltest.Dial(t, urls[1])
	ja := a.Join("chat")
	b.Send(`{"type":"join","room":"chat","peerId":"bob-peer-1","resume":"bob-secret"}`)
	if jb := b.Expect(signal.TypeJoined, ""); len(jb.Peers) != 1 || jb.Peers[0] != ja.PeerID {
		t.Fatalf("joined on node 1 lists %v, want [%s] from node 0", jb.Peers, ja.PeerID)
	}
	a.Expect(signal.TypePeerJoined, "")
	a.Send(`{"type":"offer","room":"chat","data":{"sdp":"x <&> y"}}`)
	if raw, f := b.Recv(); f.From != ja.PeerID || !strings.Contains(raw, `"data":{"sdp":"x <&> y"}`) {
		t.Fatalf("offer across processes = %s", raw)
	}

	killed := time.Now()
	if err := procs[1].cmd.Process.Kill(); err != nil { // kill -9
		t.Fatal(err)
	}
	if f := a.Expect(signal.TypePeerLeft, ""); f.PeerID != "bob-peer-1" {
		t.Fatalf("peer-left = %+v", f)
	}
	noticed := time.Since(killed)
	t.Logf("FIGURE dead node noticed after %v", noticed)
	// Survivors report a dead node's members gone DeadAfter (3 s) after its
	// last heartbeat, without waiting for JetStream's leader election.
	if noticed > 5*time.Second {
		t.Fatalf("peer-left %v after kill -9, want within 5 s", noticed)
	}

	// bob fails over to node 2 and keeps his peer id.
	start := time.Now()
	b2 := joinRetrying(ctx, t, urls[2], `{"type":"join","room":"chat","peerId":"bob-peer-1","resume":"bob-secret"}`)
	t.Logf("FIGURE rejoin on another node took %v", time.Since(start))
	if f := a.Expect(signal.TypePeerJoined, ""); f.PeerID != "bob-peer-1" {
		t.Fatalf("peer-joined after failover = %+v", f)
	}
	for i := range 20 {
		a.Send(fmt.Sprintf(`{"type":"relay","room":"chat","to":"bob-peer-1","data":"%d"}`, i))
	}
	for i := range 20 {
		if _, f := b2.Recv(); string(f.Data) != fmt.Sprintf(`"%d"`, i) {
			t.Fatalf("relay frame %d after failover = %+v", i, f)
		}
	}
}

// joinRetrying joins on url as a failing-over client does: a join answered
// "unavailable" (sent while the room bucket elects a new leader after a
// node's death) is tried again on a new connection until ctx ends.
func joinRetrying(ctx context.Context, t *testing.T, url, join string) *signaltest.Conn {
	t.Helper()
	for {
		c := signaltest.Dial(t, url)
		c.Send(join)
		_, f := c.Recv()
		switch {
		case f.Type == signal.TypeJoined:
			return c
		case f.Type == signal.TypeError && f.Code == signal.CodeUnavailable && ctx.Err() == nil:
			t.Logf("join answered unavailable (%s): again", f.Error)
			c.CloseNow()
		default:
			t.Fatalf("join answered %+v", f)
		}
	}
}
