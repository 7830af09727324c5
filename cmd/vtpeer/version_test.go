package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestResolveBuildInfo(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-30T00:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	tests := []struct {
		name                string
		v, c, d             string
		bi                  *debug.BuildInfo
		wantV, wantC, wantD string
	}{
		{"ldflags win", "v9.9.9", "fff", "2027-01-01", bi, "v9.9.9", "fff", "2027-01-01"},
		{"build info fallback", "", "", "", bi, "v1.2.3", "abc123-dirty", "2026-11-30T00:00:00Z"},
		{"nothing", "", "", "", nil, "(devel)", "", ""},
	}
	for _, tt := range tests {
		got := resolveBuildInfo(tt.v, tt.c, tt.d, tt.bi)
		if got.Version != tt.wantV || got.Commit != tt.wantC || got.Date != tt.wantD || got.Cgo != cgoEnabled || !strings.HasPrefix(got.GoVersion, "go") {
			t.Errorf("%s: %+v", tt.name, got)
		}
	}
}

// TestVersionBinary runs the e2e binary (vcs stamp from this checkout) and
// one built like the release (ldflags, CGO_ENABLED=0).
func TestVersionBinary(t *testing.T) {
	t.Parallel()
	bin := vtpeerBin(t)
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "cgo on") && cgoEnabled {
		t.Errorf("version %q: want cgo on", out)
	}
	// The commit comes from the VCS stamp, which GOFLAGS=-buildvcs=false (set on this
	// machine) leaves out: then the version must say so rather than invent one.
	mod, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if _, rev, ok := strings.Cut(string(mod), "vcs.revision="); ok {
		rev, _, _ = strings.Cut(rev, "\n")
		if !strings.Contains(string(out), strings.TrimSpace(rev)) {
			t.Errorf("version %q does not name the stamped commit %s", out, rev)
		}
	} else if !strings.Contains(string(out), "unknown commit") {
		t.Errorf("version %q: the binary has no VCS stamp, want \"unknown commit\"", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rel := filepath.Join(t.TempDir(), "vtpeer")
	build := exec.CommandContext(ctx, "go", "build", "-o", rel, "-ldflags", "-X main.version=v0.9.1 -X main.commit=0123abcd -X main.date=2026-11-30T00:00:00Z", ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	out, err = exec.Command(rel, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"vtpeer v0.9.1", "commit 0123abcd", "built 2026-11-30T00:00:00Z", "go1.", "cgo off"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("version %q: missing %q", out, want)
		}
	}
	js, err := exec.Command(rel, "version", "--json").Output()
	if err != nil || !bytes.Contains(js, []byte(`"cgo":false`)) || !bytes.Contains(js, []byte(`"version":"v0.9.1"`)) {
		t.Errorf("version --json %s: %v", js, err)
	}
}

func TestCompletionAndGenDocs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ shell, want string }{
		{"bash", "bash completion V2 for vtpeer"},
		{"zsh", "#compdef vtpeer"},
		{"fish", "fish completion for vtpeer"},
		{"powershell", "powershell completion for vtpeer"},
	} {
		var out, errb bytes.Buffer
		if code := run([]string{"completion", tt.shell}, strings.NewReader(""), &out, &errb); code != 0 {
			t.Errorf("completion %s: exit %d: %s", tt.shell, code, errb.String())
		}
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("completion %s: output lacks %q", tt.shell, tt.want)
		}
	}
	var out, errb bytes.Buffer
	dir := t.TempDir()
	if code := run([]string{"gen-docs", dir}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("gen-docs: exit %d: %s", code, errb.String())
	}
	for _, f := range []string{"man/vtpeer.1", "man/vtpeer-serve.1", "man/vtpeer-doctor.1", "completions/vtpeer.bash", "completions/vtpeer.zsh", "completions/vtpeer.fish", "completions/vtpeer.ps1"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", f, err, len(b))
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "man/vtpeer-serve.1")); !bytes.Contains(b, []byte("--turn-allow-loopback")) {
		t.Errorf("vtpeer-serve.1 does not document --turn-allow-loopback")
	}
	if _, err := os.Stat(filepath.Join(dir, "man/vtpeer-gen-docs.1")); err == nil {
		t.Errorf("the hidden gen-docs command got a man page")
	}
}
