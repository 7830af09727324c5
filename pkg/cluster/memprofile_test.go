package cluster

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// TestIdleHeapProfile is the driver behind docs/BENCHMARKS.md's "where a
// clustered node's extra memory goes": VTPEER_MEMPROF_CLIENTS=N idle
// members in rooms of 8, spread over three clustered nodes (one process),
// then a heap profile written to VTPEER_MEMPROF_OUT (default
// /tmp/vtpeer-cluster-heap.pprof) for `go tool pprof -top`.
func TestIdleHeapProfile(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("VTPEER_MEMPROF_CLIENTS"))
	if n <= 0 {
		t.Skip("set VTPEER_MEMPROF_CLIENTS=N to profile N idle members over three nodes")
	}
	out := os.Getenv("VTPEER_MEMPROF_OUT")
	if out == "" {
		out = "/tmp/vtpeer-cluster-heap.pprof"
	}
	urls := natsSignalNodes(t, 3, &signal.ServerOptions{MaxConnsPerIP: -1, MaxRooms: 100000})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i := range n {
		c, _, err := websocket.Dial(ctx, urls[i%3], nil)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		t.Cleanup(func() { _ = c.CloseNow() })
		join := fmt.Sprintf(`{"type":"join","v":1,"room":"room-%d","peerId":"p%08d","resume":"r%031d"}`, i/8, i, i)
		if err := c.Write(ctx, websocket.MessageText, []byte(join)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			t.Fatal(err)
		}
		c.CloseRead(context.Background())
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d members over 3 nodes: HeapInuse %d KiB, StackInuse %d KiB, %d goroutines", n, ms.HeapInuse>>10, ms.StackInuse>>10, runtime.NumGoroutine())
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
	t.Logf("heap profile in %s", out)
}
