package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
	addrs, routes, err := routeAddrs(3)
	if err != nil {
		t.Fatal(err)
	}
	stores := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	start := func(i int) *EmbeddedNode {
		t.Helper()
		n, err := StartNode(ctx, &NodeOptions{Name: fmt.Sprintf("b%d", i), ClusterListen: addrs[i], Routes: routes,
			StoreDir: filepath.Join(stores[i], "store")})
		if err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		t.Cleanup(n.Close)
		return n
	}
	var nodes []*EmbeddedNode
	for i := range 3 {
		nodes = append(nodes, start(i))
	}
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
