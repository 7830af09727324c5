package turnserver_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps turnserver a leaf: cmd wires it to signaling.
func TestImports(t *testing.T) {
	t.Parallel()
	const mod = "github.com/verytippers/vtpeer/"
	out, err := exec.Command("go", "list", "-deps", mod+"pkg/turnserver").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{mod + "pkg/", "github.com/pion/webrtc", "github.com/coder/websocket", "github.com/spf13/cobra", "github.com/ethereum/"} {
			if strings.HasPrefix(dep, bad) && dep != mod+"pkg/turnserver" {
				t.Errorf("turnserver imports %s", dep)
			}
		}
	}
}
