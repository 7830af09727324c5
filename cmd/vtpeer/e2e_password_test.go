package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestAccountPasswordRulesE2E: every way of setting a key's password refuses
// an empty one (account import of a hex key and --new-password-file used to
// accept it), and a password file is read only up to 4 KiB (a 50 MB file
// took the process to 227 MB and became the password).
func TestAccountPasswordRulesE2E(t *testing.T) {
	t.Parallel()
	bin := vtpeerBin(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	if err := os.WriteFile(huge, []byte(strings.Repeat("x", 50<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	hexKey := filepath.Join(dir, "key.hex")
	if err := os.WriteFile(hexKey, []byte("0x7340ccbd05730d8a98702427187696a1f17c033b3a3dd8e1318dc770b1e111ad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := vectorPath("keystore", "ethers-keystore.password")
	ksJSON := vectorPath("keystore", "ethers-keystore.json")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"hex key, empty password file", []string{"account", "import", "--light-kdf", "--password-file", empty, hexKey}, exitUsage, "empty password"},
		{"json, empty new password file", []string{"account", "import", "--light-kdf", "--password-file", pwFile, "--new-password-file", empty, ksJSON}, exitUsage, "empty password"},
		{"new, empty password file", []string{"account", "new", "--light-kdf", "--password-file", empty}, exitUsage, "empty password"},
		{"new, 50 MB password file", []string{"account", "new", "--light-kdf", "--password-file", huge}, exitUsage, "is larger than 4096 bytes"},
		{"json, 50 MB new password file", []string{"account", "import", "--light-kdf", "--password-file", pwFile, "--new-password-file", huge, ksJSON}, exitUsage, "is larger than 4096 bytes"},
		{"tip, 50 MB password file", []string{"tip", "--dry-run", "--password-file", huge, "--to", "0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58", "--amount", "1"}, exitUsage, "is larger than 4096 bytes"},
		{"import of a 50 MB file", []string{"account", "import", "--light-kdf", "--password-file", pwFile, huge}, exitFailure, "larger than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ks := t.TempDir()
			// tip needs an account to unlock: give it one.
			if tt.args[0] == "tip" {
				out, err := exec.CommandContext(ctx, bin, "account", "import", "--light-kdf", "--keystore", ks, "--password-file", pwFile, ksJSON).CombinedOutput()
				if err != nil {
					t.Fatalf("setup: %v %s", err, out)
				}
			}
			cmd := exec.CommandContext(ctx, bin, append(tt.args, "--keystore", ks)...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			code := exitCodeOf(t, cmd.Run())
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d with %q", code, stderr.String(), tt.code, tt.want)
			}
			if tt.args[0] == "account" {
				if files, _ := os.ReadDir(ks); len(files) != 0 {
					t.Errorf("a key file was written: %v", files)
				}
			}
		})
	}
}

// openPTY opens a pseudo-terminal pair: master for the test, slave for the
// process's stdin.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("skipped: no pseudo-terminal (%v)", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

// TestAccountNewConfirmsOnTerminalE2E: on a terminal, `account new` asks for
// the password twice and creates nothing when the two differ.
func TestAccountNewConfirmsOnTerminalE2E(t *testing.T) {
	t.Parallel()
	bin := vtpeerBin(t)
	tests := []struct {
		name  string
		typed string
		code  int
		want  string
	}{
		{"the same twice", "correct horse\ncorrect horse\n", exitOK, "Repeat the password"},
		{"two different", "correct horse\ncorrect hrose\n", exitFailure, "the two passwords differ"},
		{"empty", "\n", exitUsage, "empty password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			master, slave := openPTY(t)
			ks := t.TempDir()
			cmd := exec.CommandContext(ctx, bin, "account", "new", "--light-kdf", "--keystore", ks)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			var stdout, stderr strings.Builder
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { // the terminal's echo output: keep it drained
				buf := make([]byte, 1024)
				for {
					if _, err := master.Read(buf); err != nil {
						return
					}
				}
			}()
			if _, err := master.WriteString(tt.typed); err != nil {
				t.Fatal(err)
			}
			code := exitCodeOf(t, cmd.Wait())
			files, _ := os.ReadDir(ks)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) || (code == 0) != (len(files) == 1) {
				t.Fatalf("exit %d, stdout %q, stderr %q, %d key files; want exit %d with %q", code, stdout.String(), stderr.String(), len(files), tt.code, tt.want)
			}
		})
	}
}
