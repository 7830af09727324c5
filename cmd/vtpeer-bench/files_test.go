package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain runs the command instead of the tests in the child processes that "files" starts
// (it re-executes its own binary, here the test binary).
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestBenchFiles runs "vtpeer-bench files" with a small file through the root command: two
// child processes per pair, a sealed transfer and a raw run, their RSS and CPU time, and the resume pass
// with a killed receiver.
func TestBenchFiles(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	var stderr lockedBuffer // the children's: their errors, and their stacks if one hangs
	root := newRootCmd(&globals{stderr: &stderr}, &out)
	root.SetArgs([]string{"files", "--size", "24MiB", "--rounds", "2", "--dir", t.TempDir(), "--timeout", "3m", "--log-level", "error"})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("bench files: %v\n%s\nchildren's stderr:\n%s", err, out.String(), stderr.String())
	}
	text := out.String()
	row := regexp.MustCompile(`(?m)^1 +[0-9.]+ +([0-9.]+) +([0-9.]+) +([0-9.]+)× +([0-9.]+) [0-9.]+ [0-9.]+ +([0-9.]+) [0-9.]+ [0-9.]+  sealed +([0-9.]+) \+ ([0-9.]+) = [0-9.]+$`)
	m := row.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no result row for round 1:\n%s", text)
	}
	for i, name := range []string{"", "sealed MB/s", "raw MB/s", "ratio", "sender RSS", "receiver RSS", "sender CPU s/GiB", "receiver CPU s/GiB"} {
		if i > 0 && (m[i] == "0.0" || m[i] == "0.00") {
			t.Errorf("%s is zero:\n%s", name, text)
		}
	}
	t.Log("\n" + text)
	for _, want := range []string{"resume: receiver killed (SIGKILL) at", "bytes sent after the restart", "transfer time (offer → done, restart included)", "load average at the end"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

// lockedBuffer is a bytes.Buffer that the output-copying goroutines of several child
// processes can write to at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestBenchFilesUsage: bad sizes are usage errors (exit 2).
func TestBenchFilesUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"files", "--size", "1KiB"},
		{"files", "--rounds", "0"},
		{"files", "--size", "lots"},
		{"files-peer", "--role", "send"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, errb.String())
		}
	}
}
