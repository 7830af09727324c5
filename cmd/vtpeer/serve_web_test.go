package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// rawStatus sends one GET exactly as written (no client-side path cleaning)
// and returns the status code.
func rawStatus(t *testing.T, addr, target string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeWeb: by default a plain GET of / or /p2p is the page with its
// security headers, while WebSocket upgrades at / and /ws still reach
// signaling and /healthz and /metrics still answer; paths that try to leave
// the page's tree are refused. With --no-web, / is signaling only, as before
// the page existed.
func TestServeWeb(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		page bool
	}{
		{"default", nil, true},
		{"no-web", []string{"--no-web"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, cancel, done := startServe(t, tt.args...)
			defer func() { cancel(); <-done }()
			ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
			defer stop()
			for _, path := range []string{"/", "/p2p"} {
				resp, err := http.Get("http://" + addr + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				isPage := resp.StatusCode == 200 && strings.Contains(string(body), "<html")
				if isPage != tt.page {
					t.Fatalf("GET %s: status %d page=%v, want page=%v\n%.200s", path, resp.StatusCode, isPage, tt.page, body)
				}
				if !tt.page {
					if path == "/" && resp.StatusCode != http.StatusUpgradeRequired {
						t.Errorf("GET / without the page: %d, want 426 as before", resp.StatusCode)
					}
					continue
				}
				h := resp.Header
				if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") ||
					!strings.Contains(csp, "connect-src 'self' ws://"+addr+" wss://"+addr) {
					t.Errorf("GET %s: CSP %q", path, csp)
				}
				if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" ||
					h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("ETag") == "" {
					t.Errorf("GET %s: headers %v", path, h)
				}
			}
			for _, path := range []string{"/", "/ws", "/p2p"} {
				c, err := signal.Dial(ctx, "ws://"+addr+path, nil)
				if err != nil {
					t.Fatalf("upgrade at %s: %v", path, err)
				}
				if _, err := c.Join(ctx, "lobby"); err != nil {
					t.Fatalf("join at %s: %v", path, err)
				}
				_ = c.Close()
			}
			for _, path := range []string{"/healthz", "/metrics"} {
				resp, err := http.Get("http://" + addr + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != "" {
					t.Errorf("GET %s: %d, CSP %q", path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
				}
			}
			if !tt.page {
				return
			}
			for target, want := range map[string]int{
				"/js/app.js":                200,
				"/../":                      400,
				"/../../etc/passwd":         400,
				"/%2e%2e/%2e%2e/etc/passwd": 400,
				"/js/%2E%2E/index.html":     400,
				"/js/":                      404,
				"/go.mod":                   404,
			} {
				if got := rawStatus(t, addr, target); got != want {
					t.Errorf("GET %s: %d, want %d", target, got, want)
				}
			}
		})
	}
}
