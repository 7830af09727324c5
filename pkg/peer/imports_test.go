package peer

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the layering: peer uses pion and seal, never signal or go-ethereum.
func TestImports(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"github.com/verytippers/vtpeer/pkg/signal", "github.com/ethereum/go-ethereum", "github.com/coder/websocket"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("pkg/peer depends on %s", dep)
			}
		}
	}
}
