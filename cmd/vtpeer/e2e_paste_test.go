package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestE2EPasteViaServer: 100 lines pasted at once into `vtpeer join --via
// server` all arrive, in order, over one session: the signaling server
// drops nobody, so neither side reconnects and the SAS stays the same
// (issue 8, item 1: the paste used to cause about 5 drop-and-reconnect
// cycles per side, each with a new SAS).
func TestE2EPasteViaServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		serve []string
	}{
		{"defaults", nil},
		// a queue this small pushes the sender back on nearly every frame
		{"send-queue-bytes 1024", []string{"--send-queue-bytes", "1024"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testPaste(t, tc.serve)
		})
	}
}

func testPaste(t *testing.T, serveArgs []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	_, url := startServeArgs(ctx, t, nil, append([]string{"--addr", "127.0.0.1:0"}, serveArgs...)...)
	common := []string{"--server", url, "--via", "server", "--json"}
	const lines = 100
	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "paste", "--exit-after", fmt.Sprint(lines), "--timeout", "90s"}, common...)...)
	recv.waitEvent(ctx, "joined")
	send := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "paste"}, common...)...)
	rc := recv.waitEvent(ctx, "peer-connected")
	sc := send.waitEvent(ctx, "peer-connected")
	if rc["path"] != "server" || sc["path"] != "server" || rc["sas"] != sc["sas"] {
		t.Fatalf("peer-connected: receiver %v, sender %v", rc, sc)
	}
	var paste strings.Builder
	for i := range lines {
		fmt.Fprintf(&paste, "line %03d %s\n", i, strings.Repeat("pasted text ", 8))
	}
	start := time.Now()
	if _, err := send.stdin.Write([]byte(paste.String())); err != nil { // one write, as a terminal paste
		t.Fatal(err)
	}
	for i := range lines {
		m := recv.waitEvent(ctx, "message")
		if text, _ := m["text"].(string); !strings.HasPrefix(text, fmt.Sprintf("line %03d ", i)) {
			t.Fatalf("message %d = %v", i, m)
		}
	}
	elapsed := time.Since(start)
	if code := recv.wait(ctx); code != 0 {
		t.Fatalf("receiver exit %d", code)
	}
	send.interrupt()
	send.wait(ctx)
	for _, p := range []*proc{recv, send} {
		for l := range p.lines { // the rest of stdout, up to the exit
			p.seen = append(p.seen, l)
		}
		connected := 0
		for _, l := range p.seen {
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("stdout line is not JSON: %q", l)
			}
			switch ev["type"] {
			case "reconnecting", "rejoined", "peer-left":
				if p == recv || ev["type"] != "peer-left" {
					t.Fatalf("event %s during the paste: the server dropped a side", l)
				}
			case "peer-connected":
				connected++
			}
		}
		if connected != 1 {
			t.Fatalf("%d peer-connected events, want 1 (one session, one SAS)", connected)
		}
	}
	metrics := serverMetrics(ctx, t, url)
	for name, v := range metrics {
		if strings.HasPrefix(name, "vtpeer_signal_connections_dropped_total") && v != 0 {
			t.Fatalf("server metric %s = %v", name, v)
		}
	}
	t.Logf("%d pasted lines delivered via the server relay in %v, 0 reconnects, 0 drops, %v push-backs",
		lines, elapsed, metrics["vtpeer_signal_pushbacks_total"])
}

// serverMetrics reads the Prometheus text of `vtpeer serve` at ws URL u.
func serverMetrics(ctx context.Context, t *testing.T, u string) map[string]float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http"+strings.TrimPrefix(u, "ws")+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		name, val, ok := strings.Cut(l, " ")
		if !ok || strings.HasPrefix(l, "#") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", l, err)
		}
		m[name] = v
	}
	return m
}
