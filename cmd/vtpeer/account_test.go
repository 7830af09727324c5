package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runTipsCLI runs the root command with env as the whole environment and
// returns the exit code, stdout and stderr as run would.
func runTipsCLI(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globals{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	root := newRootCmd(g)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		errb.WriteString("vtpeer: " + err.Error() + "\n")
		code = exitFailure
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return code, out.String(), errb.String()
}

const (
	vecPassword = "public-vtpeer-password"
	vecAddress  = "0xD4be4442D6C200E665c6b08A2FEf88c925D1A557"
)

func vectorPath(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata", "vectors"}, parts...)...)
}

func TestAccountImportListAndErrors(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	env := map[string]string{"VTPEER_HOME": home}
	pwFile := vectorPath("keystore", "ethers-keystore.password")

	code, out, errOut := runTipsCLI(t, env, "", "account", "import", "--light-kdf", "--password-file", pwFile, vectorPath("keystore", "ethers-keystore.json"))
	if code != 0 || strings.TrimSpace(out) != vecAddress {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	if fi, err := os.Stat(filepath.Join(home, "keystore")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("keystore dir: %v %v", fi, err)
	}
	// Wrong password: a clear error, and the password is not echoed.
	env2 := map[string]string{"VTPEER_HOME": home, "VTPEER_PASSWORD": "hunter2-secret"}
	code, _, errOut = runTipsCLI(t, env2, "", "tip", "--dry-run", "--to", "0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58", "--amount", "1")
	if code != 1 || !strings.Contains(errOut, "wrong password") || strings.Contains(errOut, "hunter2") {
		t.Fatalf("wrong password: %d %q", code, errOut)
	}
	// Unknown account.
	code, _, errOut = runTipsCLI(t, env2, "", "tip", "--dry-run", "--to", "0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58", "--amount", "1",
		"--account", "0x0000000000000000000000000000000000000001")
	if code != 1 || !strings.Contains(errOut, "unknown account") {
		t.Fatalf("unknown account: %d %q", code, errOut)
	}
	// A second account: now --account is required.
	keyFile := filepath.Join(t.TempDir(), "key.hex")
	if err := os.WriteFile(keyFile, []byte("0x7340ccbd05730d8a98702427187696a1f17c033b3a3dd8e1318dc770b1e111ad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runTipsCLI(t, env, "", "account", "import", "--light-kdf", "--password-file", pwFile, keyFile)
	if code != 0 || strings.TrimSpace(out) != "0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58" {
		t.Fatalf("import hex: %d %q %q", code, out, errOut)
	}
	code, _, errOut = runTipsCLI(t, env, "", "tip", "--dry-run", "--password-file", pwFile, "--to", "0xfB704CbeBC029f3f474c7eb7e6d83b53aD7C9cf2", "--amount", "1")
	if code != 1 || !strings.Contains(errOut, "several accounts") || !strings.Contains(errOut, "--account") {
		t.Fatalf("several accounts: %d %q", code, errOut)
	}
	code, out, _ = runTipsCLI(t, env, "", "account", "list")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, vecAddress) {
		t.Fatalf("list: %d %q", code, out)
	}
	// No password source and stdin is not a terminal.
	code, _, errOut = runTipsCLI(t, env, "", "account", "new", "--light-kdf")
	if code != exitUsage || !strings.Contains(errOut, "no password") {
		t.Fatalf("no password: %d %q", code, errOut)
	}
	code, out, _ = runTipsCLI(t, env2, "", "account", "new", "--light-kdf")
	if code != 0 || !strings.HasPrefix(out, "0x") {
		t.Fatalf("new: %d %q", code, out)
	}
}
