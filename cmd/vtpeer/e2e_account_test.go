package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// homeAccount creates a light-scrypt account with the real CLI in a fresh
// VTPEER_HOME (its default keystore) and returns the home and the address.
func homeAccount(ctx context.Context, t *testing.T) (home, addr string) {
	t.Helper()
	home = t.TempDir()
	p := startProc(t, []string{"VTPEER_HOME=" + home, "VTPEER_PASSWORD=correct horse"}, "account", "new", "--light-kdf")
	addr = p.waitLine(ctx, "address", func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "0x") })
	if code := p.wait(ctx); code != 0 {
		t.Fatalf("account new exited %d", code)
	}
	return home, strings.TrimSpace(addr)
}

// TestE2EDefaultAccount follows the README's two-terminal example: each user
// has one account in their own VTPEER_HOME and passes no account flag; join
// uses that account and says so (on stdout as a status line, on stderr under
// --json so stdout stays NDJSON), `/tip 0x… 5` typed in the chat works, and
// `vtpeer tip` uses the only account too.
func TestE2EDefaultAccount(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	aliceHome, alice := homeAccount(ctx, t)
	bobHome, bob := homeAccount(ctx, t)
	common := []string{"--server", url, "--ice-loopback", "--timeout", "90s"}
	pw := "VTPEER_PASSWORD=correct horse"

	b := startProc(t, []string{"VTPEER_HOME=" + bobHome, pw}, append([]string{"join", "lobby", "--json", "--exit-after", "2"}, common...)...)
	b.waitEvent(ctx, "joined")
	if errOut := b.stderr.String(); !strings.Contains(errOut, "using account "+bob+" (the only one in the keystore at ") {
		t.Errorf("bob's stderr %q does not say which account join uses", errOut)
	}
	a := startProc(t, []string{"VTPEER_HOME=" + aliceHome, pw}, append([]string{"join", "lobby"}, common...)...)
	a.waitLine(ctx, "the account line", func(l string) bool {
		return strings.Contains(l, "* using account "+alice+" (the only one in the keystore at ")
	})
	if pc := b.waitEvent(ctx, "peer-connected"); pc["address"] != alice {
		t.Fatalf("bob sees %v, want alice's proven address %s", pc["address"], alice)
	}
	a.waitLine(ctx, "bob's proof", func(l string) bool { return strings.Contains(l, "proved account "+bob) })

	if _, err := fmt.Fprintf(a.stdin, "/tip %s 5\n", bob); err != nil {
		t.Fatal(err)
	}
	tip := b.waitEvent(ctx, "tip")
	if tip["verified"] != true || tip["from"] != alice || tip["to"] != bob || tip["amountVery"] != "5" {
		t.Fatalf("tip event %v", tip)
	}
	a.waitLine(ctx, "the receipt", func(l string) bool { return strings.Contains(l, "receipt from") && strings.Contains(l, "ACCEPTED") })

	// vtpeer tip with no account flag: the only account, said on stderr.
	tp := startProc(t, []string{"VTPEER_HOME=" + aliceHome, pw}, "tip", "--room", "lobby", "--to", bob, "--amount", "1", "--server", url, "--ice-loopback")
	if code := tp.wait(ctx); code != 0 {
		t.Fatalf("tip exited %d", code)
	}
	if errOut := tp.stderr.String(); !strings.Contains(errOut, "using account "+alice+" (the only one in the keystore at ") {
		t.Errorf("tip's stderr %q does not say which account it uses", errOut)
	}
	if tip := b.waitEvent(ctx, "tip"); tip["verified"] != true || tip["from"] != alice || tip["amountVery"] != "1" {
		t.Fatalf("second tip event %v", tip)
	}
	if code := b.wait(ctx); code != 0 {
		t.Errorf("bob exited %d", code)
	}
}

// TestJoinAccountChoice: without account flags, join with an empty
// keystore is anonymous and quiet about it; with two accounts it joins
// anonymously and says which flag picks one; tip with two accounts fails
// with the same hint, and with none says how to create one.
func TestJoinAccountChoice(t *testing.T) {
	t.Parallel()
	twoHome := t.TempDir()
	env2 := map[string]string{"VTPEER_HOME": twoHome, "VTPEER_PASSWORD": "pw"}
	for range 2 {
		if code, _, errOut := runTipsCLI(t, env2, "", "account", "new", "--light-kdf"); code != 0 {
			t.Fatal(errOut)
		}
	}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		want    string // in stdout+stderr
		notWant string
	}{
		{"join-none", map[string]string{"VTPEER_HOME": t.TempDir()}, []string{"join", "r", "--server", "ws://127.0.0.1:1", "--timeout", "300ms"}, exitFailure, "connecting", "account"},
		{"join-two", env2, []string{"join", "r", "--server", "ws://127.0.0.1:1", "--timeout", "300ms"}, exitFailure, "2 accounts in the keystore", "Password"},
		{"join-two-json", env2, []string{"join", "r", "--json", "--server", "ws://127.0.0.1:1", "--timeout", "300ms"}, exitFailure, "pick one with --account", ""},
		{"tip-two", env2, []string{"tip", "--dry-run", "--to", vecAddress, "--amount", "1"}, exitFailure, "pick one with --account", ""},
		{"tip-none", map[string]string{"VTPEER_HOME": t.TempDir(), "VTPEER_PASSWORD": "pw"}, []string{"tip", "--dry-run", "--to", vecAddress, "--amount", "1"}, exitFailure, "vtpeer account new", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runTipsCLI(t, tt.env, "", tt.args...)
			all := out + errOut
			if code != tt.code || !strings.Contains(all, tt.want) || (tt.notWant != "" && strings.Contains(all, tt.notWant)) {
				t.Fatalf("exit %d (want %d), output %q: want %q, not %q", code, tt.code, all, tt.want, tt.notWant)
			}
			if strings.Contains(strings.Join(tt.args, " "), "--json") {
				for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
					if !strings.HasPrefix(l, "{") {
						t.Errorf("stdout line %q is not JSON", l)
					}
				}
			}
		})
	}
}
