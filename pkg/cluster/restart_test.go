package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// TestRoomBucketAfterRestart: three NATS nodes on their stores hold the
// room bucket (three replicas); nodes 1 and 2 stop, and node 2 starts
// again on its store while node 1 stays down. Nodes 0 and 2 are a quorum
// of the bucket's peers, so the bucket must take writes again. With the
// bucket in memory it did not: node 2's replica came back empty, and
// nats-server does not count the vote of an empty log towards a quorum
// (raft.go runAsCandidate: it would have to hear from all three), so the
// bucket had no leader until node 1 came back — what left
// TestClusterNodeRestartKeepsStore's survivors unavailable when node 1
// stopped before the restarted node 2 had caught up.
func TestRoomBucketAfterRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := storedNodes(ctx, t, "b")
	nodes := []*EmbeddedNode{start(0), start(1), start(2)}
	nc, err := nodes[0].Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	prefix := newPrefix()
	c, err := New(ctx, nc, &Options{Prefix: prefix, Replicas: 3, NodeID: "b0", Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, prefix+"-rooms")
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) error {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := kv.Put(pctx, key, []byte(`{"room":"x","members":[]}`))
		return err
	}
	if err := put("r.before"); err != nil {
		t.Fatalf("write with three nodes: %v", err)
	}

	nodes[1].Close()
	nodes[2].Close()
	nodes[2] = start(2)
	restarted := time.Now()
	for {
		err := put("r.after")
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the bucket took no write in %v with nodes 0 and 2 up (node 2 restarted on its store): %v",
				time.Since(restarted).Round(time.Millisecond), err)
		}
		waitABit(ctx, 250*time.Millisecond)
	}
	t.Logf("the bucket took a write %v after node 2's restart", time.Since(restarted).Round(time.Millisecond))
	if e, err := kv.Get(ctx, "r.before"); err != nil || string(e.Value()) == "" {
		t.Fatalf("the value written before the restarts: %v, %v", e, err)
	}
}

// TestRoomBucketOtherStorage: a room bucket made with the other storage
// (an earlier version made every bucket in memory, which replicated ones
// no longer are) cannot change storage in place (JetStream refuses it):
// New uses it as it is, says so, and does not wait on it until its
// deadline.
func TestRoomBucketOtherStorage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := loneNode(t).Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	prefix := newPrefix()
	// Three replicas want the bucket on disk; a single node's is in memory, as an
	// earlier version made every bucket. (A node alone cannot make an R3 stream: the
	// opposite case, a bucket on disk that one replica wants in memory, is made here.)
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: prefix + "-rooms", History: 1,
		Storage: jetstream.FileStorage, LimitMarkerTTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	var logged lockedBuffer
	c, err := New(ctx, nc, &Options{Prefix: prefix, Replicas: 1, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatalf("cluster.New on a memory bucket: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	st, err := js.Stream(ctx, "KV_"+prefix+"-rooms")
	if err != nil {
		t.Fatal(err)
	}
	if s := st.CachedInfo().Config.Storage; s != jetstream.FileStorage {
		t.Fatalf("bucket storage %v, want it left on disk", s)
	}
	if !strings.Contains(logged.String(), "room bucket keeps the storage it was made with") {
		t.Fatalf("no warning logged:\n%s", logged.String())
	}
}

// lockedBuffer is a log destination that goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCaughtUpAfterRestart: a node that starts again on its store while its
// peers are down has no meta leader and cannot be current: CaughtUp says
// why (and a Cluster built on it is not Ready, so /readyz answers 503 and
// joins go elsewhere). Once its peers are back and its replicas current,
// CaughtUp is nil for good.
func TestCaughtUpAfterRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := storedNodes(ctx, t, "c")
	nodes := []*EmbeddedNode{start(0), start(1), start(2)}
	nc, err := nodes[0].Connect()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, nc, &Options{Prefix: newPrefix(), Replicas: 3, NodeID: "c0"})
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	_ = c.Close()
	nc.Close()
	for _, n := range nodes {
		n.Close()
	}

	nodes[0] = start(0)
	err = nodes[0].CaughtUp()
	if err == nil || !strings.Contains(err.Error(), "catching up") {
		t.Fatalf("CaughtUp with both peers down: %v, want why it is not", err)
	}
	t.Logf("alone after the restart: %v", err)
	nodes[1], nodes[2] = start(1), start(2)
	for nodes[0].CaughtUp() != nil {
		if ctx.Err() != nil {
			t.Fatalf("not caught up with its peers back: %v", nodes[0].CaughtUp())
		}
		waitABit(ctx, 250*time.Millisecond)
	}
}

// TestReadyWaitsForCaughtUp: Options.CaughtUp holds Ready (and so joins
// and /readyz) until it first answers nil.
func TestReadyWaitsForCaughtUp(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := loneNode(t).Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var behind atomic.Bool
	behind.Store(true)
	c, err := New(ctx, nc, &Options{Prefix: newPrefix(), CaughtUp: func() error {
		if behind.Load() {
			return errors.New("catching up with the cluster since its start: stream not current")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ready(); !errors.Is(err, signal.ErrUnavailable) || !strings.Contains(err.Error(), "stream not current") {
		t.Fatalf("Ready while catching up: %v", err)
	}
	behind.Store(false)
	if err := c.Ready(); err != nil {
		t.Fatalf("Ready once caught up: %v", err)
	}
}

// storedNodes prepares three clustered NATS nodes on stores of their own
// (named prefix0..2) and returns a function that starts node i, on its
// store, again after a stop too.
func storedNodes(ctx context.Context, t *testing.T, prefix string) func(i int) *EmbeddedNode {
	t.Helper()
	addrs, routes, err := routeAddrs(3)
	if err != nil {
		t.Fatal(err)
	}
	stores := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	return func(i int) *EmbeddedNode {
		t.Helper()
		n, err := StartNode(ctx, &NodeOptions{Name: fmt.Sprintf("%s%d", prefix, i), ClusterListen: addrs[i], Routes: routes,
			StoreDir: filepath.Join(stores[i], "store")})
		if err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		t.Cleanup(n.Close)
		return n
	}
}
