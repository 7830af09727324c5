package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// raftLogEntries is the length of node n's Raft log of stream (false when
// n holds no replica of it).
func raftLogEntries(n *EmbeddedNode, stream string) (uint64, bool) {
	accounts, err := n.srv.Jsz(&server.JSzOptions{Accounts: true, Streams: true, RaftGroups: true})
	if err != nil || accounts == nil {
		return 0, false
	}
	for _, acc := range accounts.AccountDetails {
		for _, sd := range acc.Streams {
			if sd.Name != stream || sd.RaftGroup == "" {
				continue
			}
			status := n.srv.Raftz(&server.RaftzOptions{AccountFilter: acc.Name, GroupFilter: sd.RaftGroup})
			if status == nil {
				return 0, false
			}
			g, ok := (*status)[acc.Name][sd.RaftGroup]
			return g.WAL.Msgs, ok
		}
	}
	return 0, false
}

// TestRaftLogCompacted: once a burst of joins and leaves settles, every
// node's Raft log of a room bucket kept in memory (as an earlier version
// made it; New keeps it so) is compacted within seconds (before, its
// entries, each a room's whole value, stayed in memory until nats-server's
// own 8 MiB / 65,536-entry / 2-minute schedule).
func TestRaftLogCompacted(t *testing.T) {
	t.Parallel()
	prefix := newPrefix()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, err := threeNodes(t)[1].Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// createBucket waits out a cluster that has just started (no meta leader yet).
	if _, err := createBucket(ctx, js, slog.New(slog.DiscardHandler), jetstream.KeyValueConfig{Bucket: prefix + "-rooms", History: 1,
		Storage: jetstream.MemoryStorage, Replicas: 3, LimitMarkerTTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 0, prefix, nil)
	stream := "KV_" + prefix + "-rooms"
	const writes = 2 * compactMinEntries
	for i := range writes / 2 {
		room, peer := fmt.Sprintf("room-%d", i%40), fmt.Sprintf("peer-%05d", i)
		if _, err := c.Join(ctx, signal.JoinRequest{Room: room, PeerID: peer, Session: "s", MaxMembers: 64}); err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
		if i%2 == 0 {
			if err := c.Leave(ctx, room, peer, "s"); err != nil {
				t.Fatalf("leave %d: %v", i, err)
			}
		}
	}
	peak := map[int]uint64{}
	for i, n := range threeNodes(t) {
		peak[i], _ = raftLogEntries(n, stream)
	}
	t.Logf("raft log entries right after %d writes: %v", writes*3/4, peak)
	start := time.Now()
	for {
		var long []string
		for i, n := range threeNodes(t) {
			entries, ok := raftLogEntries(n, stream)
			if !ok || entries >= compactMinEntries {
				long = append(long, fmt.Sprintf("node %d: %d entries (replica %v)", i, entries, ok))
			}
		}
		if len(long) == 0 {
			t.Logf("every replica's log compacted %v after the writes", time.Since(start).Round(time.Millisecond))
			return
		}
		if ctx.Err() != nil || time.Since(start) > 20*time.Second {
			t.Fatalf("raft logs not compacted %v after the writes: %v", time.Since(start).Round(time.Millisecond), long)
		}
		waitABit(ctx, 200*time.Millisecond)
	}
}
