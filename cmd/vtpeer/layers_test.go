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
		// doctor's direct imports are checked by TestDoctorImports
		{"pkg/doctor", []string{"github.com/spf13/cobra", mod + "pkg/turnserver", mod + "pkg/mailbox"}},
		{"cmd/vtpeer", nil},
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
