package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDoctorNAT runs the real `vtpeer doctor` behind the emulated NATs of
// the NAT test (e2e_nat_test.go) against a real `serve --turn
// --turn-alt-port`: with two STUN ports to compare, doctor names the NAT's
// mapping behaviour, and says TURN is needed behind a symmetric one.
func TestDoctorNAT(t *testing.T) {
	t.Parallel()
	nn := newNatNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, url := startServeIn(ctx, t, nn.inet, []string{"VTPEER_HOME=" + t.TempDir()},
		"--addr", natServerIP+":0", "--turn", "--turn-addr", natServerIP+":3478", "--turn-alt-port", "3479")
	type kindCase struct {
		kind   natKind
		status string
		detail string // the nat check's detail starts with it
		fix    string // and its fix contains this
		ns     string
		public string
	}
	cases := []kindCase{
		{kind: natFullCone, status: "ok", detail: "endpoint-independent"},
		{kind: natPortRestricted, status: "ok", detail: "endpoint-independent"},
		{kind: natSymmetric, status: "warn", detail: "symmetric", fix: "TURN needed"},
	}
	for i := range cases { // the topology first: the subtests run in parallel
		cases[i].ns, cases[i].public = nn.addPeer(cases[i].kind)
	}
	t.Run("kinds", func(t *testing.T) {
		for _, tt := range cases {
			t.Run(string(tt.kind), func(t *testing.T) {
				t.Parallel()
				_, rep, stderr := runDoctorIn(ctx, t, tt.ns, vtpeerBin(t), []string{"VTPEER_HOME=" + t.TempDir()}, nil, "--server", url)
				for _, c := range rep.Checks {
					if c.Group != "network" || c.Check != "nat" {
						continue
					}
					if c.Status != tt.status || !strings.HasPrefix(c.Detail, tt.detail) || !strings.Contains(c.Fix, tt.fix) || !strings.Contains(c.Detail, tt.public+":") {
						b, _ := json.Marshal(c)
						t.Errorf("nat check %s, want status %s, detail %q… naming the router's %s, fix with %q\nstderr:\n%s", b, tt.status, tt.detail, tt.public, tt.fix, stderr)
					}
					t.Logf("nat %s: %s", c.Status, c.Detail)
					return
				}
				t.Fatalf("no network/nat check in the report: %+v", rep.Checks)
			})
		}
	})
}
