package main

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// silentServer accepts TCP connections on loopback and never answers them,
// like a wedged server or a port held by something that is not vtpeer.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "ws://" + ln.Addr().String()
}

// TestE2EJoinSilentServer: join against a server that accepts TCP and never
// answers says why each attempt failed and keeps retrying (it used to print
// "connecting" and nothing else, forever); --timeout still ends it, exit 1
// with the reason.
func TestE2EJoinSilentServer(t *testing.T) {
	t.Parallel()
	url := silentServer(t)
	reason := "server at " + url + " accepted TCP but did not answer the WebSocket handshake within 300ms"
	env := []string{"VTPEER_CONNECT_TIMEOUT=300ms"}

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		p := startProc(t, append(env, "VTPEER_HOME="+t.TempDir()), "join", "r", "--json", "--server", url)
		for want := 1.0; want <= 2; want++ {
			ev := p.waitEvent(ctx, "reconnecting")
			if ev["attempt"] != want || !strings.Contains(ev["error"].(string), reason) {
				t.Fatalf("reconnecting event %v, want attempt %v and %q", ev, want, reason)
			}
		}
		p.interrupt()
		if code := p.wait(ctx); code != exitFailure {
			t.Errorf("exit code %d after Ctrl-C, want %d", code, exitFailure)
		}
	})
	t.Run("text-timeout", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		p := startProc(t, append(env, "VTPEER_HOME="+t.TempDir()), "join", "r", "--server", url, "--timeout", "3s")
		for want := 1; want <= 2; want++ {
			l := p.waitLine(ctx, "a failed attempt", func(l string) bool { return strings.Contains(l, "attempt") })
			if !strings.Contains(l, reason) || !strings.Contains(l, "retrying in") {
				t.Fatalf("status line %q, want the reason %q and the retry", l, reason)
			}
		}
		if code := p.wait(ctx); code != exitFailure {
			t.Fatalf("exit code %d, want %d", code, exitFailure)
		}
		if errOut := p.stderr.String(); !strings.Contains(errOut, "timed out after") || !strings.Contains(errOut, reason) {
			t.Errorf("stderr %q, want the timeout, the attempts and the last reason", errOut)
		}
	})
}

// TestConnectTimeoutFlag: --connect-timeout and VTPEER_CONNECT_TIMEOUT must
// be positive durations (exit 2 otherwise); the flag wins over the variable.
func TestConnectTimeoutFlag(t *testing.T) {
	t.Parallel()
	join := []string{"join", "r", "--server", "ws://127.0.0.1:1", "--timeout", "300ms"}
	tests := []struct {
		name string
		env  string
		args []string
		code int
		want string
	}{
		{"zero-flag", "", []string{"--connect-timeout", "0s"}, exitUsage, "--connect-timeout must be positive"},
		{"bad-env", "soon", nil, exitUsage, `VTPEER_CONNECT_TIMEOUT "soon"`},
		{"negative-env", "-1s", nil, exitUsage, "VTPEER_CONNECT_TIMEOUT"},
		{"flag-over-bad-env", "soon", []string{"--connect-timeout", "1s"}, exitFailure, "connection refused"},
		{"good-env", "1s", nil, exitFailure, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"VTPEER_HOME": t.TempDir(), "VTPEER_CONNECT_TIMEOUT": tt.env}
			code, out, errOut := runTipsCLI(t, env, "", slices.Concat(join, tt.args)...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d (want %d), output %q, want %q", code, tt.code, out+errOut, tt.want)
			}
		})
	}
}
