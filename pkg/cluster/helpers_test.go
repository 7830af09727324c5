package cluster

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// natsNodes are three embedded NATS servers clustered on loopback, shared
// by the tests of the package; each test keeps to its own Prefix.
var natsNodes struct {
	once  sync.Once
	nodes []*EmbeddedNode
	err   error
}

var prefixes atomic.Int64

func TestMain(m *testing.M) {
	if spec := os.Getenv(childNodeEnv); spec != "" {
		os.Exit(runChildNode(spec)) // a NATS node of TestKilledNode in its own process
	}
	code := m.Run()
	for _, n := range natsNodes.nodes {
		n.Close()
	}
	os.Exit(code)
}

// threeNodes starts (once) three embedded NATS servers routed to each other
// over loopback.
func threeNodes(t testing.TB) []*EmbeddedNode {
	t.Helper()
	natsNodes.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Every node routes to all three (its own route is ignored):
		// JetStream's cluster needs configured routes on every node.
		addrs, routes, err := routeAddrs(3)
		if err != nil {
			natsNodes.err = err
			return
		}
		for i, a := range addrs {
			n, err := StartNode(ctx, &NodeOptions{Name: fmt.Sprintf("n%d", i), ClusterListen: a, Routes: routes})
			if err != nil {
				natsNodes.err = err
				return
			}
			natsNodes.nodes = append(natsNodes.nodes, n)
		}
	})
	if natsNodes.err != nil {
		t.Fatalf("start three nats nodes: %v", natsNodes.err)
	}
	return natsNodes.nodes
}

// routeAddrs reserves n free loopback ports for NATS cluster listeners
// and returns them as addresses and as nats:// routes.
func routeAddrs(n int) (addrs, routes []string, err error) {
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		addrs = append(addrs, ln.Addr().String())
		routes = append(routes, "nats://"+ln.Addr().String())
		_ = ln.Close()
	}
	return addrs, routes, nil
}

// newCluster connects a Cluster for node i of the shared NATS cluster.
func newCluster(t testing.TB, i int, prefix string, o *Options) *Cluster {
	t.Helper()
	nodes := threeNodes(t)
	nc, err := nodes[i%len(nodes)].Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.Prefix, opts.Replicas = prefix, 3
	if opts.NodeID == "" {
		opts.NodeID = fmt.Sprintf("node%d", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := New(ctx, nc, &opts)
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newPrefix() string { return fmt.Sprintf("t%d", prefixes.Add(1)) }

// natsSignalNodes is a signaltest.Nodes: n signal.Servers, each on its own
// node of the NATS cluster.
func natsSignalNodes(t *testing.T, n int, opts *signal.ServerOptions) []string {
	prefix := newPrefix()
	urls := make([]string, n)
	for i := range urls {
		var o signal.ServerOptions
		if opts != nil {
			o = *opts
		}
		o.Cluster = newCluster(t, i, prefix, nil)
		urls[i] = startServer(t, &o)
	}
	return urls
}

func startServer(t testing.TB, opts *signal.ServerOptions) string {
	t.Helper()
	s, err := signal.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		_ = s.Close()
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}
