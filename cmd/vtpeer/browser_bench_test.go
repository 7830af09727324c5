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
// 20 runs against a waiting `vtpeer join`, each run a fresh tab and room (docs/BENCHMARKS.md).
func TestBrowserBenchConnect(t *testing.T) {
	if os.Getenv("VTPEER_BENCH") != "1" {
		t.Skip("set VTPEER_BENCH=1 to measure the page's connect times")
	}
	b := browsertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	const runs = 20
	var load, conn []float64
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
	}
	pct := func(v []float64, p float64) float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return s[int(p*float64(len(s)-1)+0.5)]
	}
	t.Logf("page load → joined: p50 %.0f ms, p95 %.0f ms (%d runs)", pct(load, .5), pct(load, .95), runs)
	t.Logf("page ↔ go connect (joined → sealed session): p50 %.0f ms, p95 %.0f ms (%d runs)", pct(conn, .5), pct(conn, .95), runs)
}
