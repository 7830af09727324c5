package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// TestContendedJoins: 30 members join each of three rooms at the same
// moment, spread over three nodes. Every join succeeds and every room
// lists all of them (before the per-room batching, a third of the joins of
// such a burst failed with "changes too fast").
func TestContendedJoins(t *testing.T) {
	t.Parallel()
	prefix := newPrefix()
	cs := []*Cluster{newCluster(t, 0, prefix, nil), newCluster(t, 1, prefix, nil), newCluster(t, 2, prefix, nil)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const workers, each = 30, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := cs[w%3].Join(ctx, signal.JoinRequest{
					Room: fmt.Sprintf("c%d", (w+i)%3), PeerID: fmt.Sprintf("peer-%d-%d", w, i), Session: "s", MaxMembers: 1000,
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d joins in %v", workers*each, time.Since(start))
	for r := range 3 {
		v, rev, err := cs[r].readRoom(ctx, roomKey(fmt.Sprintf("c%d", r)))
		if err != nil || rev == 0 {
			t.Fatalf("read c%d: %v", r, err)
		}
		if len(v.Members) != workers*each/3 {
			t.Errorf("room c%d has %d members, want %d", r, len(v.Members), workers*each/3)
		}
	}
}
