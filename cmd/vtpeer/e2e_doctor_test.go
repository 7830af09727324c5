package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// doctorReport is `vtpeer doctor --json` as the tests read it.
type doctorReport struct {
	Checks []struct {
		Group, Check, Status, Detail, Fix string
	} `json:"checks"`
	OK, Warn, Fail int
}

func (r *doctorReport) status(group, check string) string {
	for _, c := range r.Checks {
		if c.Group == group && c.Check == check {
			return c.Status
		}
	}
	return "missing"
}

// runDoctorCmd runs the real binary's doctor with --json and returns its
// exit code and report. cred, when set, runs it as another user.
func runDoctorCmd(ctx context.Context, t *testing.T, bin string, env []string, cred *syscall.Credential, args ...string) (int, *doctorReport, string) {
	t.Helper()
	return runDoctorIn(ctx, t, "", bin, env, cred, args...)
}

// runDoctorIn is runDoctorCmd inside network namespace ns ("" the host's).
func runDoctorIn(ctx context.Context, t *testing.T, ns, bin string, env []string, cred *syscall.Credential, args ...string) (int, *doctorReport, string) {
	t.Helper()
	argv := append([]string{bin, "doctor", "--json", "--timeout", "15s"}, args...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("doctor: %v\n%s", err, stderr.String())
	}
	var rep doctorReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("doctor --json output is not one JSON object: %v\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	return code, &rep, stderr.String()
}

// wantStatuses fails for every check whose status is not the wanted one.
func wantStatuses(t *testing.T, rep *doctorReport, want map[string]string) {
	t.Helper()
	for k, w := range want {
		group, check, _ := strings.Cut(k, "/")
		if got := rep.status(group, check); got != w {
			t.Errorf("%s: status %s, want %s", k, got, w)
		}
	}
	if t.Failed() {
		b, _ := json.MarshalIndent(rep, "", "  ")
		t.Logf("report:\n%s", b)
	}
}

// udpBufferStatus is what udp-buffers must say on this machine.
func udpBufferStatus(t *testing.T) string {
	for _, k := range []string{"rmem_max", "wmem_max"} {
		b, err := os.ReadFile("/proc/sys/net/core/" + k)
		if err != nil {
			return "skip"
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if n < 4<<20 {
			return "warn"
		}
	}
	return "ok"
}

func TestDoctorServeTURN(t *testing.T) {
	t.Parallel()
	vtpeerBin(t) // build before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// No --turn-allow-loopback: the relay checks go between the server's own allocations.
	_, url := startServeArgs(ctx, t, []string{"VTPEER_HOME=" + t.TempDir()}, "--addr", "127.0.0.1:0", "--turn", "--turn-addr", "127.0.0.1:0")
	keystore, pwFile, addr := newAccount(ctx, t)
	home := t.TempDir()
	code, rep, stderr := runDoctorCmd(ctx, t, vtpeerBin(t), []string{"VTPEER_HOME=" + home}, nil,
		"--server", url, "--keystore", keystore, "--password-file", pwFile)
	if code != 0 {
		t.Errorf("exit %d, want 0; stderr:\n%s", code, stderr)
	}
	want := map[string]string{
		"machine/udp-buffers": udpBufferStatus(t), "machine/home-writable": "ok", "machine/home-lock": "ok",
		"machine/keystore": "ok", "machine/password": "ok", "machine/clock": "ok",
	}
	for _, c := range []string{"dns", "tcp", "tls", "healthz", "websocket", "protocol", "token"} {
		want["server/"+c] = "ok"
	}
	for _, c := range []string{"nat", "turn-udp", "turn-tcp", "turn-relay", "datachannel"} {
		want["network/"+c] = "ok"
	}
	wantStatuses(t, rep, want)
	for _, c := range rep.Checks {
		if c.Check == "password" && !strings.Contains(c.Detail, addr) {
			t.Errorf("password detail %q does not name %s", c.Detail, addr)
		}
		if c.Check == "nat" && !strings.HasPrefix(c.Detail, "no NAT") {
			t.Errorf("nat on loopback: %q, want no NAT", c.Detail)
		}
	}
}

func TestDoctorServerWithoutTURN(t *testing.T) {
	t.Parallel()
	vtpeerBin(t) // build before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, url := startServeArgs(ctx, t, []string{"VTPEER_HOME=" + t.TempDir()}, "--addr", "127.0.0.1:0")
	code, rep, stderr := runDoctorCmd(ctx, t, vtpeerBin(t), []string{"VTPEER_HOME=" + t.TempDir()}, nil, "--server", url)
	if code != 0 {
		t.Errorf("exit %d, want 0 (warnings do not fail); stderr:\n%s", code, stderr)
	}
	wantStatuses(t, rep, map[string]string{
		"server/websocket": "ok", "network/nat": "warn", "network/turn-udp": "warn", "network/turn-tcp": "warn",
		"network/turn-relay": "skip", "network/datachannel": "skip", "machine/keystore": "warn",
	})
}

func TestDoctorDeadPort(t *testing.T) {
	t.Parallel()
	vtpeerBin(t) // build before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	code, rep, _ := runDoctorCmd(ctx, t, vtpeerBin(t), []string{"VTPEER_HOME=" + t.TempDir()}, nil, "--server", "ws://"+addr)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantStatuses(t, rep, map[string]string{"server/dns": "ok", "server/tcp": "fail", "server/healthz": "skip", "network/nat": "skip"})
	for _, c := range rep.Checks {
		if c.Check == "tcp" && (!strings.Contains(c.Detail, "connection refused") || !strings.Contains(c.Fix, "vtpeer serve")) {
			t.Errorf("tcp: detail %q fix %q", c.Detail, c.Fix)
		}
	}
}

func TestDoctorNotVtpeer(t *testing.T) {
	t.Parallel()
	vtpeerBin(t) // build before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<h1>not here</h1>"))
	}))
	defer srv.Close()
	code, rep, _ := runDoctorCmd(ctx, t, vtpeerBin(t), []string{"VTPEER_HOME=" + t.TempDir()}, nil, "--server", "ws"+strings.TrimPrefix(srv.URL, "http"))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantStatuses(t, rep, map[string]string{"server/tcp": "ok", "server/healthz": "fail", "server/websocket": "fail", "network/turn-udp": "skip"})
	for _, c := range rep.Checks {
		if c.Check == "healthz" && !strings.Contains(c.Detail, "not a vtpeer signaling server") {
			t.Errorf("healthz detail %q", c.Detail)
		}
	}
}

func TestDoctorReadOnlyHome(t *testing.T) {
	t.Parallel()
	vtpeerBin(t) // build before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bin := vtpeerBin(t)
	var cred *syscall.Credential
	dir, err := os.MkdirTemp("", "vtpeer-rohome-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755); _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		// root writes anywhere: run doctor as nobody, with a copy of the binary it may execute
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(dir, "vtpeer")
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "doctor", "--no-server", "--json")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "VTPEER_HOME=" + home}
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out, err := cmd.Output()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want 1; output:\n%s", err, out)
	}
	var rep doctorReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	wantStatuses(t, &rep, map[string]string{"machine/home-writable": "fail", "server/server": "skip"})
}

func TestDoctorWrongPassword(t *testing.T) {
	t.Parallel()
	vtpeerBin(t) // build before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	keystore, _, _ := newAccount(ctx, t)
	wrong := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(wrong, []byte("wrong horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, rep, _ := runDoctorCmd(ctx, t, vtpeerBin(t), []string{"VTPEER_HOME=" + t.TempDir()}, nil,
		"--no-server", "--keystore", keystore, "--password-file", wrong)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantStatuses(t, rep, map[string]string{"machine/keystore": "ok", "machine/password": "fail"})
}
