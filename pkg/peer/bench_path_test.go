package peer

import (
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// BenchmarkPaths measures, in one run, time-to-connect and bulk throughput over the direct path
// and the server relay (two Nodes with Via "server"; the "server" is the in-memory test relay,
// asynchronous and ordered like the real one, but without WebSocket framing, TLS or a network
// hop). See docs/BENCHMARKS.md.
func BenchmarkPaths(b *testing.B) {
	for _, pc := range []struct {
		name  string
		via   string
		body  int // message body: the sealed frame is the path's maximum
		total int
	}{
		{"direct", ViaDirect, bulkMsg - 64, 512}, // 64 KiB frames, 32 MiB
		{"server", ViaServer, RelayMaxFrame - seal.Overhead - dataHeaderLen - len("bulk"), 8 << 20 / RelayMaxFrame}, // 40 KiB frames, 8 MiB
	} {
		b.Run(pc.name, func(b *testing.B) {
			ctx := benchCtx(b)
			var connect, bulk []float64
			for i := 0; i < b.N; i++ {
				var ds []time.Duration
				for j := 0; j < 10; j++ {
					ds = append(ds, connectVia(b, pc.via))
				}
				connect = append(connect, float64(percentile(ds, 0.5).Microseconds())/1000)

				r := newRelay(b)
				mod := func(o *Options) { o.Via = pc.via }
				x, y := newNode(b, r, "a", mod), newNode(b, r, "b", mod)
				r.join("a", x.n)
				r.join("b", y.n)
				waitConnected(b, ctx, y)
				waitConnected(b, ctx, x)
				msg := make([]byte, pc.body)
				t0 := time.Now()
				go func() {
					for k := 0; k < pc.total; k++ {
						if y.n.Send(ctx, "a", "bulk", msg) != nil {
							return
						}
					}
				}()
				for k := 0; k < pc.total; k++ {
					select {
					case <-x.c.msgs:
					case <-ctx.Done():
						b.Fatal(ctx.Err())
					}
				}
				bulk = append(bulk, float64(pc.total*pc.body)/time.Since(t0).Seconds()/1e6)
				_ = x.n.Close()
				_ = y.n.Close()
				r.stop()
			}
			b.ReportMetric(median(connect), "connect-p50-ms")
			b.ReportMetric(median(bulk), "body-MB/s")
		})
	}
}

// connectVia is connectOnce with both Nodes on one path.
func connectVia(tb testing.TB, via string) time.Duration {
	ctx := ctxT(tb, 30*time.Second)
	start := time.Now()
	r := newRelay(tb)
	mod := func(o *Options) { o.Via = via }
	a := newNode(tb, r, "a", mod)
	b := newNode(tb, r, "b", mod)
	r.join("a", a.n)
	r.join("b", b.n)
	waitConnected(tb, ctx, a)
	waitConnected(tb, ctx, b)
	d := time.Since(start)
	_ = a.n.Close()
	_ = b.n.Close()
	r.stop()
	return d
}
