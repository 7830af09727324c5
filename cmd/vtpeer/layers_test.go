package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayers keeps the import graph as STYLE.md draws it: each package
// reaches only the libraries that are its job, and nothing in pkg/ reaches
// up into another layer it should only talk to through an interface.
func TestLayers(t *testing.T) {
	t.Parallel()
	const mod = "github.com/verytippers/vtpeer/"
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"pkg/signal", []string{"github.com/pion/", "github.com/ethereum/", mod + "pkg/peer", mod + "pkg/seal", mod + "pkg/tips", "github.com/spf13/cobra", "github.com/nats-io/", mod + "pkg/cluster"}},
		// the NATS engine behind signal.Cluster: signal's interface, nothing above it
		{"pkg/cluster", []string{"github.com/pion/", "github.com/ethereum/", mod + "pkg/peer", mod + "pkg/seal", mod + "pkg/tips", mod + "pkg/mailbox", "github.com/spf13/cobra"}},
		{"pkg/peer", []string{"github.com/coder/websocket", "github.com/ethereum/", mod + "pkg/signal", mod + "pkg/tips", "github.com/spf13/cobra"}},
		{"pkg/seal", []string{"github.com/", mod + "pkg/"}},
		{"pkg/turnserver", []string{"github.com/coder/websocket", "github.com/ethereum/", "github.com/pion/webrtc", mod + "pkg/", "github.com/spf13/cobra"}},
		{"pkg/mailbox", []string{"github.com/pion/", "github.com/coder/websocket", "github.com/ethereum/", mod + "pkg/signal", mod + "pkg/peer", mod + "pkg/tips", "github.com/spf13/cobra"}},
		{"pkg/tips", []string{"github.com/pion/", "github.com/coder/websocket", mod + "pkg/signal", mod + "pkg/peer", mod + "pkg/seal", "github.com/spf13/cobra"}},
		// the page is files and an http.Handler: nothing of ours, no protocol library
		{"pkg/web", []string{"github.com/pion/", "github.com/coder/websocket", "github.com/ethereum/", mod + "pkg/", mod + "internal/", "github.com/spf13/cobra"}},
		// the application protocol sits on peer, seal, tips and mailbox: never on the wire or the CLI
		{"pkg/app", []string{"github.com/coder/websocket", mod + "pkg/signal", mod + "pkg/turnserver", mod + "cmd/", "github.com/spf13/cobra"}},
		// doctor's direct imports are checked by TestDoctorImports
		{"pkg/doctor", []string{"github.com/spf13/cobra", mod + "pkg/turnserver", mod + "pkg/mailbox"}},
		// the benchmarks' load generators are not in the user's binary (cmd/vtpeer-bench)
		{"cmd/vtpeer", []string{mod + "pkg/signal/sigbench"}},
	}
	// Everywhere: only cmd serves the page, and the browser harness is for
	// tests alone (go list -deps leaves test imports out).
	for i := range tests {
		tests[i].forbidden = append(tests[i].forbidden, mod+"internal/browsertest", "github.com/chromedp/")
		if tests[i].pkg != "cmd/vtpeer" {
			tests[i].forbidden = append(tests[i].forbidden, mod+"pkg/web")
		}
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command("go", "list", "-deps", mod+tt.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tt.pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				if dep == mod+tt.pkg {
					continue
				}
				for _, bad := range tt.forbidden {
					if strings.HasPrefix(dep, bad) {
						t.Errorf("%s imports %s (forbidden prefix %s)", tt.pkg, dep, bad)
					}
				}
			}
		})
	}
}

// TestLayersApp: pkg/app's own imports from this module are peer, seal,
// tips and mailbox (and the internal bbolt helpers), and it talks to pion
// only through pkg/peer; nothing in pkg/ imports pkg/app — only commands do.
func TestLayersApp(t *testing.T) {
	t.Parallel()
	const mod = "github.com/verytippers/vtpeer/"
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", mod+"pkg/app").Output()
	if err != nil {
		t.Fatalf("go list pkg/app: %v", err)
	}
	allowed := map[string]bool{mod + "pkg/peer": true, mod + "pkg/seal": true, mod + "pkg/tips": true,
		mod + "pkg/mailbox": true, mod + "internal/boltutil": true}
	for _, imp := range strings.Fields(string(out)) {
		if (strings.HasPrefix(imp, mod) && !allowed[imp]) || strings.HasPrefix(imp, "github.com/pion/") {
			t.Errorf("pkg/app imports %s directly", imp)
		}
	}
	out, err = exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", mod+"pkg/...").Output()
	if err != nil {
		t.Fatalf("go list pkg/...: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, dep := range f[1:] {
			if dep == mod+"pkg/app" && f[0] != mod+"pkg/app" {
				t.Errorf("%s imports pkg/app: only commands may", f[0])
			}
		}
	}
}

// TestDoctorImports: pkg/doctor probes STUN and TURN as a client with
// pion/stun and pion/turn (protocol probes, not WebRTC: the one exception to
// "only pkg/peer imports pion"); its DataChannel check goes through pkg/peer
// and its join through pkg/signal, never pion/webrtc or coder/websocket
// directly.
func TestDoctorImports(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "github.com/verytippers/vtpeer/pkg/doctor").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{"github.com/pion/stun/v4": true, "github.com/pion/turn/v5": true, "github.com/pion/logging": true}
	for _, imp := range strings.Fields(string(out)) {
		if (strings.HasPrefix(imp, "github.com/pion/") && !allowed[imp]) || strings.HasPrefix(imp, "github.com/coder/websocket") || strings.HasPrefix(imp, "github.com/ethereum/") {
			t.Errorf("pkg/doctor imports %s directly", imp)
		}
	}
}
