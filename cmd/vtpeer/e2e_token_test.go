package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mintToken runs `vtpeer token` and returns the token.
func mintToken(ctx context.Context, t *testing.T, secretFile string, args ...string) string {
	t.Helper()
	p := startProc(t, nil, append([]string{"token", "--ttl", "1h", "--secret-file", secretFile}, args...)...)
	tok := p.waitLine(ctx, "token", func(l string) bool { return strings.Count(l, ".") == 2 })
	if code := p.wait(ctx); code != 0 {
		t.Fatalf("token exited %d", code)
	}
	return strings.TrimSpace(tok)
}

// TestE2EJoinTokenRefused: against a server that requires a token, join
// without one is told to pass --token; join with a token the server refuses
// is told it was refused and why, not to pass the --token it passed.
func TestE2EJoinTokenRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	secret, other := filepath.Join(dir, "secret"), filepath.Join(dir, "other")
	for f, key := range map[string]string{secret: strings.Repeat("k", 32), other: strings.Repeat("x", 32)} {
		if err := os.WriteFile(f, []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, url := startServeArgs(ctx, t, []string{"VTPEER_HOME=" + t.TempDir()}, "--addr", "127.0.0.1:0", "--jwt-secret-file", secret)
	tests := []struct {
		name, token string
		want        []string
		notWant     string
	}{
		{"none", "", []string{"requires a token", "pass --token"}, "refused"},
		{"other-room", mintToken(ctx, t, secret, "--room", "elsewhere"), []string{"refused the token", "not valid for this room"}, "pass --token"},
		{"other-key", mintToken(ctx, t, other, "--room", "lobby"), []string{"refused the token", "signature is invalid"}, "pass --token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { // serial: they share ctx and the server
			p := startProc(t, []string{"VTPEER_HOME=" + t.TempDir(), "VTPEER_TOKEN=" + tt.token}, "join", "lobby", "--server", url, "--timeout", "30s")
			if code := p.wait(ctx); code != exitFailure {
				t.Fatalf("exit code %d, want %d", code, exitFailure)
			}
			errOut := p.stderr.String()
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q, want %q", errOut, w)
				}
			}
			if strings.Contains(errOut, tt.notWant) {
				t.Errorf("stderr %q, must not say %q", errOut, tt.notWant)
			}
		})
	}
}
