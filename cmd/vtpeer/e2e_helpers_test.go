package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The end-to-end tests run the real binary as separate processes, as a user
// or a script would.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBin builds the binary once per test run; TestMain calls it before
// any test starts, so no test's deadline pays for the build.
func buildBin() {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vtpeer-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "vtpeer")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
}

// vtpeerBin returns the binary built by buildBin.
func vtpeerBin(t *testing.T) string {
	t.Helper()
	buildBin()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running vtpeer process whose stdout lines can be awaited.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	lines   chan string
	stderr  *syncBuffer
	done    chan struct{}
	err     error
	scanErr error
	seen    []string // stdout lines read so far by waitLine
	stdin   io.WriteCloser
}

// syncBuffer collects stderr and signals each write on notify.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	notify chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProc runs vtpeer with args and env (added to a minimal environment).
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startProcIn(t, "", env, args...)
}

// startProcIn is startProc inside network namespace ns ("": this one).
func startProcIn(t *testing.T, ns string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(vtpeerBin(t), args...)
	if ns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns, vtpeerBin(t)}, args...)...)
	}
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, lines: make(chan string, 1024), stderr: &syncBuffer{notify: make(chan struct{}, 1)}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe() // never closed: a receiver must not leave at EOF of a pipe
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		p.scanErr = sc.Err()
		close(p.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s stderr:\n%s", strings.Join(args, " "), p.stderr.String())
		}
	})
	return p
}

// waitLine returns the first stdout line that match accepts.
func (p *proc) waitLine(ctx context.Context, what string, match func(string) bool) string {
	p.t.Helper()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				<-p.done
				p.t.Fatalf("stdout closed before %s (exit: %v, scan: %v); stdout so far:\n%s\nstderr:\n%s", what, p.err, p.scanErr, strings.Join(p.seen, "\n"), p.stderr.String())
			}
			p.seen = append(p.seen, l)
			if match(l) {
				return l
			}
		case <-ctx.Done():
			p.t.Fatalf("timed out waiting for %s; stderr:\n%s", what, p.stderr.String())
		}
	}
}

// waitEvent returns the first JSON event of type typ as a map.
func (p *proc) waitEvent(ctx context.Context, typ string) map[string]any {
	p.t.Helper()
	var ev map[string]any
	p.waitLine(ctx, "event "+typ, func(l string) bool {
		ev = nil
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			p.t.Fatalf("stdout line is not JSON: %q", l)
		}
		return ev["type"] == typ
	})
	return ev
}

// waitEvents returns the first JSON event of each of types, in whatever
// order they come.
func (p *proc) waitEvents(ctx context.Context, types ...string) map[string]map[string]any {
	p.t.Helper()
	got := map[string]map[string]any{}
	want := map[string]bool{}
	for _, typ := range types {
		want[typ] = true
	}
	p.waitLine(ctx, "events "+strings.Join(types, ", "), func(l string) bool {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			p.t.Fatalf("stdout line is not JSON: %q", l)
		}
		if typ, _ := ev["type"].(string); want[typ] && got[typ] == nil {
			got[typ] = ev
		}
		return len(got) == len(types)
	})
	return got
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(ctx context.Context) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-ctx.Done():
		p.t.Fatalf("process did not exit; stderr:\n%s", p.stderr.String())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.err)
	return -1
}

// interrupt asks the process to shut down as Ctrl-C would.
func (p *proc) interrupt() { _ = p.cmd.Process.Signal(os.Interrupt) }

var listenRE = regexp.MustCompile(`msg=listening addr=(\d+\.\d+\.\d+\.\d+:\d+)`)

// startServeProc runs `vtpeer serve` on a free loopback port and returns its ws URL.
func startServeProc(ctx context.Context, t *testing.T, addr string, env ...string) (*proc, string) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return startServeArgs(ctx, t, env, "--addr", addr)
}

// startServeArgs runs `vtpeer serve ARGS…` and returns its ws URL once it
// listens.
func startServeArgs(ctx context.Context, t *testing.T, env []string, args ...string) (*proc, string) {
	t.Helper()
	return startServeIn(ctx, t, "", env, args...)
}

// startServeIn is startServeArgs inside network namespace ns ("": this one).
func startServeIn(ctx context.Context, t *testing.T, ns string, env []string, args ...string) (*proc, string) {
	t.Helper()
	p := startProcIn(t, ns, env, append([]string{"serve"}, args...)...)
	for {
		if m := listenRE.FindStringSubmatch(p.stderr.String()); m != nil {
			return p, "ws://" + m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("serve exited: %s", p.stderr.String())
		case <-ctx.Done():
			t.Fatalf("serve did not listen: %s", p.stderr.String())
		case <-p.stderr.notify: // serve logs "listening addr=…" when ready
		}
	}
}

// newAccount creates a light-scrypt account with the real CLI and returns
// its keystore dir, password file and address.
func newAccount(ctx context.Context, t *testing.T) (keystore, pwFile, addr string) {
	t.Helper()
	dir := t.TempDir()
	keystore, pwFile = filepath.Join(dir, "keystore"), filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, nil, "account", "new", "--light-kdf", "--keystore", keystore, "--password-file", pwFile)
	addr = p.waitLine(ctx, "address", func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "0x") })
	if code := p.wait(ctx); code != 0 {
		t.Fatalf("account new exited %d", code)
	}
	return keystore, pwFile, strings.TrimSpace(addr)
}
