package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// startServe runs "vtpeer serve args…" in-process and returns its address,
// a cancel func and a channel with the command's error.
func startServe(t *testing.T, args ...string) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	g := &globals{stdin: strings.NewReader(""), stdout: io.Discard, stderr: pw, getenv: func(string) string { return "" }}
	root := newRootCmd(g)
	root.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); _ = pw.Close() }()
	addrc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg=listening addr=(\S+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	select {
	case addr := <-addrc:
		return addr, cancel, done
	case err := <-done:
		cancel()
		t.Fatalf("serve exited early: %v", err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("serve never logged its address")
	}
	return "", cancel, done
}

func TestServe(t *testing.T) {
	t.Parallel()
	addr, cancel, done := startServe(t)
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	c, err := signal.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Status string }
	_ = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if h.Status != "ok" {
		t.Fatalf("healthz status %q", h.Status)
	}
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("vtpeer_signal_connections 1")) {
		t.Fatalf("metrics lack the connection gauge:\n%.500s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	// the client was told the server is going away, then reconnects in vain.
	if f, err := c.Recv(ctx); err != nil || f.Type != signal.TypeReconnecting {
		t.Fatalf("after shutdown: %+v %v", f, err)
	}
}

func TestServeUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--tls-cert", "x"},
		{"serve", "--jwt-secret-file", "/nonexistent"},
		{"serve", "--max-members", "1", "--addr", "127.0.0.1:0"},
		{"token", "--room", "r"},
	} {
		var stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), io.Discard, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr.String())
		}
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("k", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{"token", "--room", "lobby", "--ttl", "1h", "--secret-file", secret, "--subject", "alice"},
		strings.NewReader(""), &out, io.Discard); code != exitOK {
		t.Fatalf("token exit %d", code)
	}
	tok := strings.TrimSpace(out.String())
	addr, cancel, done := startServe(t, "--jwt-secret-file", secret)
	defer func() { cancel(); <-done }()
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	for room, ok := range map[string]bool{"lobby": true, "other": false} {
		c, err := signal.Dial(ctx, "ws://"+addr+"/", &signal.ClientOptions{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Join(ctx, room)
		c.Close()
		if (err == nil) != ok {
			t.Errorf("join %s with token: %v, want ok=%v", room, err, ok)
		}
	}
}
