package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTipDryRunPassesVerify(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	env := map[string]string{"VTPEER_HOME": home}
	pwFile := vectorPath("keystore", "ethers-keystore.password")
	if code, _, errOut := runTipsCLI(t, env, "", "account", "import", "--light-kdf", "--password-file", pwFile, vectorPath("keystore", "ethers-keystore.json")); code != 0 {
		t.Fatal(errOut)
	}
	to := "0x19f860a5c0b29e5b52f6dc90a215c6b4ed37aa58"
	code, out, errOut := runTipsCLI(t, env, "", "tip", "--dry-run", "--from", strings.ToLower(vecAddress), "--password-file", pwFile,
		"--to", to, "--amount", "0.000123456789012345", "--cid", "bafy")
	if code != 0 {
		t.Fatalf("dry-run: %d %s", code, errOut)
	}
	var wire struct {
		Type string         `json:"type"`
		Meta map[string]any `json:"meta"`
	}
	if err := json.Unmarshal([]byte(out), &wire); err != nil || wire.Type != "signed-meta" || wire.Meta["amount"] != "123456789012345" {
		t.Fatalf("dry-run output %q: %v", out, err)
	}
	signed := filepath.Join(t.TempDir(), "tip.json")
	if err := os.WriteFile(signed, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	// verify from a file and from stdin, text and JSON.
	code, vout, errOut := runTipsCLI(t, env, "", "verify", signed)
	if code != 0 || !strings.Contains(vout, vecAddress) || !strings.Contains(vout, "timestampSigned true") || !strings.Contains(vout, "0.000123456789012345 VERY") {
		t.Fatalf("verify: %d %q %q", code, vout, errOut)
	}
	code, vout, _ = runTipsCLI(t, env, out, "verify", "--json", "-")
	var res verifyOutput
	if code != 0 || json.Unmarshal([]byte(vout), &res) != nil || !res.Valid || res.Signer != vecAddress || !res.TimestampSigned {
		t.Fatalf("verify --json: %d %q", code, vout)
	}
	// Tampered: exit 1 with the reason and code.
	tampered := strings.Replace(out, `"amount":"123456789012345"`, `"amount":"123456789012346"`, 1)
	code, vout, errOut = runTipsCLI(t, env, tampered, "verify", "--json")
	if code != 1 || !strings.Contains(errOut, "message_hash_mismatch") || !strings.Contains(vout, `"valid":false`) {
		t.Fatalf("tampered: %d %q %q", code, vout, errOut)
	}
	// --signed loads and verifies without a keystore, then reaches sendTip,
	// which fails to dial a server that is not there.
	code, _, errOut = runTipsCLI(t, map[string]string{"VTPEER_HOME": t.TempDir()}, out, "tip", "--signed", "-", "--room", "r", "--server", "ws://127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, "is `vtpeer serve` running at ws://127.0.0.1:1") {
		t.Fatalf("--signed: %d %q", code, errOut)
	}
	code, _, errOut = runTipsCLI(t, env, tampered, "tip", "--signed", "-", "--room", "r")
	if code != 1 || !strings.Contains(errOut, "message_hash_mismatch") {
		t.Fatalf("--signed tampered: %d %q", code, errOut)
	}
}

func TestTipFlagValidation(t *testing.T) {
	t.Parallel()
	env := map[string]string{"VTPEER_HOME": t.TempDir(), "VTPEER_PASSWORD": "x"}
	tests := map[string][]string{
		"no-to":         {"tip", "--dry-run", "--amount", "1"},
		"bad-to":        {"tip", "--dry-run", "--to", "0x12", "--amount", "1"},
		"no-amount":     {"tip", "--dry-run", "--to", vecAddress},
		"both-amounts":  {"tip", "--dry-run", "--to", vecAddress, "--amount", "1", "--amount-wei", "1"},
		"float-amount":  {"tip", "--dry-run", "--to", vecAddress, "--amount", "1e3"},
		"too-precise":   {"tip", "--dry-run", "--to", vecAddress, "--amount", "0.0000000000000000001"},
		"signed-and-to": {"tip", "--signed", "-", "--to", vecAddress},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if code, _, errOut := runTipsCLI(t, env, "", args...); code != exitUsage {
				t.Fatalf("exit %d, want %d: %s", code, exitUsage, errOut)
			}
		})
	}
}
