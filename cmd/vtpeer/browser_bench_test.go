package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// TestBrowserBenchConnect measures, with VTPEER_BENCH=1, page load → `joined` and page ↔ Go
// connect time (the page's `joined` → both start frames opened, sealed, the page offering) over
// 20 runs against a waiting `vtpeer join`, each run a fresh tab and room, beside a Go ↔ Go
// baseline from the same run: a second `vtpeer join` in the place of the page, its `joined` →
// `peer-connected` as the test reads them from its --json output (docs/BENCHMARKS.md).
func TestBrowserBenchConnect(t *testing.T) {
	if os.Getenv("VTPEER_BENCH") != "1" {
		t.Skip("set VTPEER_BENCH=1 to measure the page's connect times")
	}
	b := browsertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	const runs = 20
	var load, conn, goConn []float64
	for i := 0; i < runs; i++ {
		room := fmt.Sprintf("bench-%d", i)
		g := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", room, "--json", "--server", url, "--ice-loopback", "--timeout", "60s")
		g.waitEvent(ctx, "joined")
		tab := b.NewTab(t, room)
		if err := tab.Navigate(ctx, pageURL(url, room, "")); err != nil {
			t.Fatal(err)
		}
		tm, err := browsertest.WaitFor[map[string]float64](ctx, tab, `window.vtpeerTimes && window.vtpeerTimes.connected && window.vtpeerTimes`)
		if err != nil {
			t.Fatal(err)
		}
		g.waitEvent(ctx, "peer-connected")
		load = append(load, tm["joined"])
		conn = append(conn, tm["connected"]-tm["joined"])
		tab.Close()
		g.interrupt()
		g.wait(ctx)

		room = fmt.Sprintf("bench-go-%d", i)
		g = startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", room, "--json", "--server", url, "--ice-loopback", "--timeout", "60s")
		g.waitEvent(ctx, "joined")
		g2 := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", room, "--json", "--server", url, "--ice-loopback", "--timeout", "60s")
		g2.waitEvent(ctx, "joined")
		joined := time.Now()
		g2.waitEvent(ctx, "peer-connected")
		goConn = append(goConn, float64(time.Since(joined).Microseconds())/1000)
		g.waitEvent(ctx, "peer-connected")
		for _, p := range []*proc{g, g2} {
			p.interrupt()
			p.wait(ctx)
		}
	}
	t.Logf("page load → joined: p50 %.0f ms, p95 %.0f ms (%d runs)", pctl(load, .5), pctl(load, .95), runs)
	t.Logf("page ↔ go connect (joined → sealed session): p50 %.0f ms, p95 %.0f ms (%d runs)", pctl(conn, .5), pctl(conn, .95), runs)
	t.Logf("go ↔ go connect (joined → peer-connected), same run: p50 %.0f ms, p95 %.0f ms; page/go ratio p50 %.2f, p95 %.2f",
		pctl(goConn, .5), pctl(goConn, .95), pctl(conn, .5)/pctl(goConn, .5), pctl(conn, .95)/pctl(goConn, .95))
}

// pctl is the p-quantile of v (nearest rank).
func pctl(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[int(p*float64(len(s)-1)+0.5)]
}
