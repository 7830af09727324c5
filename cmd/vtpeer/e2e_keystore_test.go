package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// craftKeystore writes the ethers vector keystore with its kdfparams changed
// by edit (or the whole crypto section, for a kdf change) into dir and
// returns its path.
func craftKeystore(t *testing.T, dir string, edit func(crypto, params map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(vectorPath("keystore", "ethers-keystore.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ks map[string]any
	if err := json.Unmarshal(b, &ks); err != nil {
		t.Fatal(err)
	}
	crypto := ks["Crypto"].(map[string]any)
	edit(crypto, crypto["kdfparams"].(map[string]any))
	out, err := json.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "UTC--crafted--d4be4442d6c200e665c6b08a2fef88c925d1a557")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAccountHostileKeystoreE2E: keystore files whose KDF parameters would
// exhaust memory or CPU (n = 2^30 crashed `account import` out of memory
// with exit 2; p = 2^20 ran for minutes) or whose shape crashes
// go-ethereum's decoder are refused at once, exit 1, with the parameter
// named — by `account import` and by `tip` unlocking a key file already in
// the keystore.
func TestAccountHostileKeystoreE2E(t *testing.T) {
	t.Parallel()
	bin := vtpeerBin(t)
	pwFile := vectorPath("keystore", "ethers-keystore.password")
	tests := []struct {
		name string
		edit func(crypto, params map[string]any)
		want string
	}{
		{"scrypt n 2^30", func(_, p map[string]any) { p["n"] = 1 << 30 }, "kdfparams.n = 1073741824 is outside 2…262144"},
		{"scrypt p 2^20", func(_, p map[string]any) { p["p"] = 1 << 20 }, "kdfparams.p = 1048576 is outside 1…16"},
		{"scrypt r 2^10", func(_, p map[string]any) { p["r"] = 1 << 10 }, "kdfparams.r = 1024 is outside 1…8"},
		{"scrypt work", func(_, p map[string]any) { p["n"], p["p"] = 1<<18, 16 }, "scrypt n·r·p = 33554432 exceeds 4194304"},
		{"scrypt n not a power of 2", func(_, p map[string]any) { p["n"] = 4097 }, "scrypt n = 4097 is not a power of 2"},
		{"scrypt n fraction", func(_, p map[string]any) { p["n"] = 4096.5 }, "kdfparams.n = 4096.5 is not an integer"},
		{"scrypt n string", func(_, p map[string]any) { p["n"] = "4096" }, `kdfparams.n = "4096" is not an integer`},
		{"dklen 16", func(_, p map[string]any) { p["dklen"] = 16 }, "kdfparams.dklen = 16, want 32"},
		{"salt number", func(_, p map[string]any) { p["salt"] = 7 }, "kdfparams.salt is not a hex string"},
		{"pbkdf2 c 2^31", func(c, p map[string]any) {
			c["kdf"] = "pbkdf2"
			delete(p, "n")
			p["c"], p["prf"] = 1<<31, "hmac-sha256"
		}, "kdfparams.c = 2147483648 is outside 1…4194304"},
		{"pbkdf2 prf", func(c, p map[string]any) { c["kdf"], p["c"], p["prf"] = "pbkdf2", 1000, "hmac-md5" }, `pbkdf2 prf is not "hmac-sha256"`},
		{"unknown kdf", func(c, _ map[string]any) { c["kdf"] = "argon2" }, `kdf "argon2" is not scrypt or pbkdf2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			file := craftKeystore(t, t.TempDir(), tt.edit)
			run := func(args ...string) (int, string) {
				cmd := exec.CommandContext(ctx, bin, args...)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				err := cmd.Run()
				if ctx.Err() != nil {
					t.Fatalf("%s: still running after a minute", strings.Join(args[:2], " "))
				}
				return exitCodeOf(t, err), stderr.String()
			}
			code, stderr := run("account", "import", "--light-kdf", "--keystore", t.TempDir(), "--password-file", pwFile, file)
			if code != exitFailure || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "goroutine ") {
				t.Fatalf("account import: exit %d, stderr %.500q; want exit 1 with %q", code, stderr, tt.want)
			}
			// The same file already in a keystore, unlocked to sign.
			code, stderr = run("tip", "--dry-run", "--keystore", filepath.Dir(file), "--password-file", pwFile,
				"--to", "0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58", "--amount", "1")
			if code != exitFailure || !strings.Contains(stderr, tt.want) {
				t.Fatalf("tip: exit %d, stderr %.500q; want exit 1 with %q", code, stderr, tt.want)
			}
		})
	}
}

// TestUnlockInterruptE2E: Ctrl-C or SIGTERM while scrypt runs (a file at the
// limits: n = 2^18, p = 2) ends `vtpeer tip` at once with exit 1 and says
// so; it used to be ignored until the KDF finished.
func TestUnlockInterruptE2E(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			dir := t.TempDir()
			craftKeystore(t, dir, func(_, p map[string]any) { p["n"], p["p"] = 1<<18, 2 })
			p := startProc(t, nil, "tip", "--dry-run", "--log-level", "debug", "--keystore", dir,
				"--password-file", vectorPath("keystore", "ethers-keystore.password"),
				"--to", "0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58", "--amount", "1")
			for !strings.Contains(p.stderr.String(), "unlocking account") {
				select {
				case <-p.stderr.notify:
				case <-p.done:
					t.Fatalf("exited before unlocking: %s", p.stderr.String())
				case <-ctx.Done():
					t.Fatalf("never started unlocking: %s", p.stderr.String())
				}
			}
			start := time.Now()
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code := p.wait(ctx)
			t.Logf("exited %v after %s", code, time.Since(start))
			if code != exitFailure || !strings.Contains(p.stderr.String(), "interrupted while unlocking") {
				t.Fatalf("exit %d, stderr %q; want exit 1, interrupted while unlocking", code, p.stderr.String())
			}
			for l := range p.lines { // closed before the process is reaped
				t.Fatalf("printed %q after the interrupt", l)
			}
		})
	}
}
