package web_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// TestNodeJS runs the page's unit tests (pkg/web/jstest: the seal against
// testdata/seal/vectors.json, tips against testdata/vectors/tips-ethers.json
// and testdata/seal/offline.json, the vendored checksums, the JS budget) with
// Node's built-in test runner. It skips only when node is missing outside CI.
func TestNodeJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if browsertest.InCI() {
			t.Fatal("node is not installed (CI): the page's seal and tips tests cannot run")
		}
		t.Skip("node not found: skipping the page's JavaScript tests (install Node 20+ to run them)")
	}
	cmd := exec.Command(node, "--test", "jstest/")
	cmd.Env = append(os.Environ(), "NODE_OPTIONS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test jstest/: %v\n%s", err, out)
	}
	t.Logf("node --test jstest/:\n%s", tail(out, 12))
}

func tail(b []byte, lines int) []byte {
	n := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n++; n > lines {
				return b[i+1:]
			}
		}
	}
	return b
}
