package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVerifyPreciseErrorsE2E runs the real binary on signed metas that are
// wrong in ways that used to be accepted or misreported: each exits 1 with
// a reason that says what is wrong, in text and in --json.
func TestVerifyPreciseErrorsE2E(t *testing.T) {
	t.Parallel()
	bin := vtpeerBin(t)
	const (
		from = `"from":"0xD4be4442D6C200E665c6b08A2FEf88c925D1A557"`
		to   = `"to":"0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58"`
		sig  = `"signature":"0x` + "11" + `"`
	)
	tests := []struct {
		name, in, code, reason string
	}{
		{"duplicate key", `{"meta":{` + from + `,` + to + `,"amount":"1","amount":"9000"},` + sig + `}`, "malformed", `duplicate field "amount" in "meta"`},
		{"amount number", `{"meta":{` + from + `,` + to + `,"amount":5},` + sig + `}`, "bad_amount", "amount must be a decimal string, not a number"},
		{"nonce over uint256", `{"meta":{` + from + `,` + to + `,"amount":"5","nonce":"` + strings.Repeat("9", 90) + `"},` + sig + `}`, "bad_nonce", "nonce exceeds uint256"},
		{"nonce array", `{"meta":{` + from + `,` + to + `,"amount":"5","nonce":[]},` + sig + `}`, "bad_nonce", `field "nonce" must be a string, got array`},
		{"from array", `{"meta":{"from":[],` + to + `,"amount":"5"},` + sig + `}`, "malformed", `field "from" must be a string, got array`},
		{"bad checksum", `{"meta":{"from":"0xD4BE4442D6C200E665c6b08A2FEf88c925D1A557",` + to + `,"amount":"5"},` + sig + `}`, "bad_address", "bad EIP-55 checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			file := filepath.Join(t.TempDir(), "tip.json")
			if err := os.WriteFile(file, []byte(tt.in), 0o600); err != nil {
				t.Fatal(err)
			}
			// Text: the reason and code on stderr, exit 1.
			cmd := exec.CommandContext(ctx, bin, "verify", file)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			want := "invalid tip: "
			if code := exitCodeOf(t, err); code != exitFailure || !strings.Contains(stderr.String(), want) ||
				!strings.Contains(stderr.String(), tt.reason) || !strings.Contains(stderr.String(), "("+tt.code+")") {
				t.Fatalf("verify: exit %d, stderr %q; want exit 1 with %q (%s)", code, stderr.String(), tt.reason, tt.code)
			}
			// JSON on stdout.
			out, err := exec.CommandContext(ctx, bin, "verify", "--json", file).Output()
			var res verifyOutput
			if code := exitCodeOf(t, err); code != exitFailure || json.Unmarshal(out, &res) != nil ||
				res.Valid || res.Code != tt.code || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("verify --json: exit %d, %s", code, out)
			}
		})
	}
}

// exitCodeOf is the exit code of a finished exec.Cmd's error.
func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}
