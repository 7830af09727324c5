package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/signal/signaltest"
)

// childNodeEnv makes the test binary a NATS node (TestMain): its value is
// "name|listen|route,route,…". The node prints its client URL on stdout
// and runs until killed or its stdin closes.
const childNodeEnv = "VTPEER_TEST_NATS_NODE"

func runChildNode(spec string) int {
	parts := strings.Split(spec, "|")
	if len(parts) != 3 {
		fmt.Fprintln(os.Stderr, "bad", childNodeEnv, spec)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := StartNode(ctx, &NodeOptions{Name: parts[0], ClusterListen: parts[1], Routes: strings.Split(parts[2], ",")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("client", n.srv.ClientURL())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the test ends (or kill -9)
	n.Close()
	return 0
}

// startChildNode starts NATS node name (listening for routes on addr) in
// a process of its own, to be killed with SIGKILL, and returns the process
// and a function that waits for the node's client URL (the node starts
// routing once the other nodes are up). The process ends with the test.
func startChildNode(ctx context.Context, t *testing.T, name, addr string, routes []string) (*exec.Cmd, func() string) {
	t.Helper()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childNodeEnv+"="+name+"|"+addr+"|"+strings.Join(routes, ","))
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = child.Process.Kill(); _ = child.Wait() })
	return child, func() string {
		t.Helper()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "client ") {
			t.Fatalf("child node %s: %q %v", name, line, err)
		}
		return strings.TrimSpace(strings.TrimPrefix(line, "client "))
	}
}

// nodesBesideChild starts three clustered nodes named prefix0..2: node 2 in a
// child process (startChildNode: SIGKILL it to kill the node), nodes 0 and 1
// in this one.
func nodesBesideChild(ctx context.Context, t *testing.T, prefix string) (*exec.Cmd, func() string, []*EmbeddedNode) {
	t.Helper()
	addrs, routes, err := routeAddrs(3)
	if err != nil {
		t.Fatal(err)
	}
	child, clientURL := startChildNode(ctx, t, prefix+"2", addrs[2], routes)
	var nodes []*EmbeddedNode
	for i := range 2 {
		n, err := StartNode(ctx, &NodeOptions{Name: fmt.Sprintf("%s%d", prefix, i), ClusterListen: addrs[i], Routes: routes})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		nodes = append(nodes, n)
	}
	return child, clientURL, nodes
}

// countingNode wraps the Node a Server gives its Cluster and counts the
// ClusterLost calls.
type countingNode struct {
	signal.Node
	lost *atomic.Int32
}

func (n countingNode) ClusterLost(err error) { n.lost.Add(1); n.Node.ClusterLost(err) }

type countingCluster struct {
	*Cluster
	lost atomic.Int32
}

func (c *countingCluster) Attach(n signal.Node) func() {
	return c.Cluster.Attach(countingNode{n, &c.lost})
}

// TestKilledNode: three NATS nodes, one in a process of its own holding
// the room bucket's stream leader, is killed with SIGKILL (no leader
// hand-over, unlike a shutdown). The two survivors must not take the
// JetStream leader election that follows for a lost cluster: they stay
// Ready, close none of their members and never call ClusterLost; their
// members hear peer-left for the dead node's member within 5 s of the
// kill, whatever the election takes; and a join on a survivor gets in
// once a new leader is elected. (Before: the survivors' presence loop
// waited on the silent bucket, so their heartbeats stalled, Ready failed
// and the dead member's peer-left waited for the election: 4–10 s.)
func TestKilledNode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	child, clientURL, nodes := nodesBesideChild(ctx, t, "k")
	ncDoomed, err := nats.Connect(clientURL(), nats.NoReconnect()) // dies with its node
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ncDoomed.Close)

	prefix := newPrefix()
	open := func(nc *nats.Conn, id string) *countingCluster {
		t.Helper()
		c, err := New(ctx, nc, &Options{Prefix: prefix, Replicas: 3, NodeID: id, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)).With("node", id)})
		if err != nil {
			t.Fatalf("cluster.New %s: %v", id, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return &countingCluster{Cluster: c}
	}
	var live []*countingCluster
	for i, n := range nodes {
		nc, err := n.Connect()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		live = append(live, open(nc, fmt.Sprintf("live%d", i)))
	}
	doomed := open(ncDoomed, "doomed")
	moveStreamLeader(ctx, t, live[0].nc, "KV_"+prefix+"-rooms", "k2")

	urlA := startServer(t, &signal.ServerOptions{Cluster: live[0]})
	urlB := startServer(t, &signal.ServerOptions{Cluster: live[1]})
	urlD := startServer(t, &signal.ServerOptions{Cluster: doomed})
	a, b, d := signaltest.Dial(t, urlA), signaltest.Dial(t, urlB), signaltest.Dial(t, urlD)
	a.Join("r")
	b.Join("r")
	a.Expect(signal.TypePeerJoined, "")
	jd := d.Join("r")
	a.Expect(signal.TypePeerJoined, "")
	b.Expect(signal.TypePeerJoined, "")

	killed := time.Now()
	if err := child.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	// The survivors stay ready through the election.
	stop := make(chan struct{})
	notReady := make(chan error, 1)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, c := range live {
				if err := c.Ready(); err != nil {
					select {
					case notReady <- fmt.Errorf("%s unready %v after the kill: %w", c.NodeID(), time.Since(killed).Round(time.Millisecond), err):
					default:
					}
				}
			}
		}
	}()
	for _, m := range []*signaltest.Conn{a, b} {
		if f := m.Expect(signal.TypePeerLeft, ""); f.PeerID != jd.PeerID {
			t.Fatalf("peer-left = %+v, want the dead node's member %s", f, jd.PeerID)
		}
	}
	took := time.Since(killed)
	t.Logf("dead node's member reported gone %v after SIGKILL", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("peer-left %v after the kill, want within 5 s", took)
	}
	// A join on a survivor gets in once the bucket has a leader again; it
	// is never refused as "lost its cluster".
	var joinedAfter time.Duration
	for joinedAfter == 0 {
		c := signaltest.Dial(t, urlB)
		c.Send(`{"type":"join","room":"r"}`)
		switch _, f := c.Recv(); {
		case f.Type == signal.TypeJoined:
			joinedAfter = time.Since(killed)
			if len(f.Peers) != 2 {
				t.Errorf("join after the kill lists %v, want the two survivors' members", f.Peers)
			}
		case f.Type == signal.TypeError && f.Code == signal.CodeUnavailable && !strings.Contains(f.Error, "lost"):
			t.Logf("join %v after the kill: %s (election not over)", time.Since(killed).Round(time.Millisecond), f.Error)
		default:
			t.Fatalf("join %v after the kill answered %+v", time.Since(killed).Round(time.Millisecond), f)
		}
		if ctx.Err() != nil {
			t.Fatal("no join got in")
		}
	}
	t.Logf("a join on a survivor got in %v after the kill", joinedAfter.Round(time.Millisecond))
	for _, m := range []*signaltest.Conn{a, b} {
		m.Expect(signal.TypePeerJoined, "")
	}
	// Past any election: the survivors were ready all along and kept their members.
	waitABit(ctx, 12*time.Second-time.Since(killed))
	close(stop)
	select {
	case err := <-notReady:
		t.Error(err)
	default:
	}
	for _, c := range live {
		if n := c.lost.Load(); n != 0 {
			t.Errorf("%s called ClusterLost %d times", c.NodeID(), n)
		}
	}
	a.Send(`{"type":"offer","room":"r","data":1}`)
	if _, f := b.Recv(); f.Type != "offer" {
		t.Fatalf("b after the kill got %+v, want a's offer (its connection kept)", f)
	}
}

// moveStreamLeader asks JetStream to make server the leader of stream,
// until it is: a stepdown starts an election, whose outcome is awaited
// before asking again.
func moveStreamLeader(ctx context.Context, t *testing.T, nc *nats.Conn, stream, server string) {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": server}})
	leader := func() string {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		m, err := nc.RequestWithContext(rctx, "$JS.API.STREAM.INFO."+stream, nil)
		if err != nil {
			return ""
		}
		var info struct {
			Cluster struct {
				Leader string `json:"leader"`
			} `json:"cluster"`
		}
		_ = json.Unmarshal(m.Data, &info)
		return info.Cluster.Leader
	}
	for {
		was := leader()
		if was == server {
			return
		}
		if was != "" {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			m, err := nc.RequestWithContext(rctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, req)
			cancel()
			if err != nil {
				t.Logf("stepdown: %v", err)
			} else if !strings.Contains(string(m.Data), `"success":true`) {
				t.Logf("stepdown: %s", m.Data)
			}
			for l := leader(); (l == was || l == "") && ctx.Err() == nil; l = leader() {
				waitABit(ctx, 100*time.Millisecond) // the election
			}
		} else {
			waitABit(ctx, 100*time.Millisecond)
		}
		if ctx.Err() != nil {
			t.Fatalf("stream %s leader never moved to %s", stream, server)
		}
	}
}
