package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/verytippers/vtpeer/pkg/tips"
)

// WantUDPBuffer is the kernel cap (net.core.rmem_max / wmem_max) below
// which the 4 MiB buffers vtpeer asks for are cut and bulk transfers lose
// datagrams (docs/BENCHMARKS.md: about half the throughput).
const WantUDPBuffer = 4 << 20

// WantOpenFiles is the open-file limit below which a busy server runs out
// of descriptors (each WebSocket, TURN client and relay is one).
const WantOpenFiles = 4096

// checkMachine runs udp-buffers, open-files, clock, home-writable,
// home-lock, keystore and password.
func checkMachine(ctx context.Context, o *Options, r *Report, facts *serverFacts) {
	checkUDPBuffers(r, os.ReadFile)
	checkOpenFiles(r)
	checkClock(r, facts, o.Now)
	checkHome(r, o.Home)
	checkKeystore(ctx, o, r)
}

// checkUDPBuffers reads the kernel's socket buffer caps (Linux only).
func checkUDPBuffers(r *Report, readFile func(string) ([]byte, error)) {
	if runtime.GOOS != "linux" {
		r.add(GroupMachine, "udp-buffers", StatusSkip, "only checked on Linux", "")
		return
	}
	var low []string
	var parts []string
	for _, k := range []string{"rmem_max", "wmem_max"} {
		b, err := readFile("/proc/sys/net/core/" + k)
		if err != nil {
			r.add(GroupMachine, "udp-buffers", StatusSkip, fmt.Sprintf("read net.core.%s: %v", k, err), "")
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			r.add(GroupMachine, "udp-buffers", StatusSkip, fmt.Sprintf("net.core.%s: %q is not a number", k, strings.TrimSpace(string(b))), "")
			return
		}
		parts = append(parts, fmt.Sprintf("net.core.%s=%d", k, n))
		if n < WantUDPBuffer {
			low = append(low, k)
		}
	}
	detail := strings.Join(parts, ", ")
	if len(low) > 0 {
		r.add(GroupMachine, "udp-buffers", StatusWarn, detail+fmt.Sprintf(": below %d, which halves bulk throughput over WebRTC", WantUDPBuffer),
			fmt.Sprintf("run `sysctl -w net.core.rmem_max=%d net.core.wmem_max=%d` as root (and put both in /etc/sysctl.d/99-vtpeer.conf)", WantUDPBuffer, WantUDPBuffer))
		return
	}
	r.add(GroupMachine, "udp-buffers", StatusOK, detail, "")
}

// checkOpenFiles compares the soft open-file limit with WantOpenFiles.
func checkOpenFiles(r *Report) {
	soft, hard, ok := openFileLimit()
	if !ok {
		r.add(GroupMachine, "open-files", StatusSkip, "not checked on "+runtime.GOOS, "")
		return
	}
	detail := fmt.Sprintf("soft limit %d, hard limit %d", soft, hard)
	if soft < WantOpenFiles {
		r.add(GroupMachine, "open-files", StatusWarn, detail+fmt.Sprintf(": a busy `vtpeer serve` needs more than %d (peers are fine)", WantOpenFiles),
			"raise it for the server: `ulimit -n 65536` in its shell, or LimitNOFILE=65536 in its systemd unit (packaging/vtpeer.service has it)")
		return
	}
	r.add(GroupMachine, "open-files", StatusOK, detail, "")
}

// Clock offsets: tips carry signed timestamps that receivers refuse when
// older than --max-age (10 minutes by default), and mail dated more than 5
// minutes ahead is refused.
const (
	clockWarn = 30 * time.Second
	clockFail = 5 * time.Minute
)

// checkClock compares the local clock with the server's Date header.
func checkClock(r *Report, facts *serverFacts, now func() time.Time) {
	if facts.date.IsZero() {
		r.add(GroupMachine, "clock", StatusSkip, "needs the server's Date header (see healthz)", "")
		return
	}
	// Date has one-second resolution: the server's clock was in [date, date+1s).
	offset := facts.localAt.Sub(facts.date.Add(500 * time.Millisecond))
	if facts.localAt.IsZero() {
		offset = now().Sub(facts.date)
	}
	abs := offset.Abs()
	margin := time.Second + facts.rtt/2
	detail := fmt.Sprintf("this clock is %s %s the server's (±%s)", abs.Round(100*time.Millisecond), map[bool]string{true: "ahead of", false: "behind"}[offset >= 0], margin.Round(100*time.Millisecond))
	fix := "sync the clock (timedatectl set-ntp true, or chrony/ntpd): tips are signed with a timestamp and refused when too old, mail when dated in the future"
	switch {
	case abs > clockFail+margin:
		r.add(GroupMachine, "clock", StatusFail, detail, fix)
	case abs > clockWarn+margin:
		r.add(GroupMachine, "clock", StatusWarn, detail, fix)
	default:
		r.add(GroupMachine, "clock", StatusOK, detail, "")
	}
}

// checkHome checks that home is a writable directory and that no other
// process holds its databases.
func checkHome(r *Report, home string) {
	if home == "" {
		r.add(GroupMachine, "home-writable", StatusSkip, "no VTPEER_HOME given", "")
		r.add(GroupMachine, "home-lock", StatusSkip, "no VTPEER_HOME given", "")
		return
	}
	fi, err := os.Stat(home)
	switch {
	case errors.Is(err, os.ErrNotExist):
		r.add(GroupMachine, "home-writable", StatusOK, home+" does not exist yet: it is created on first use", "")
		r.add(GroupMachine, "home-lock", StatusOK, "no databases yet", "")
		return
	case err != nil:
		r.add(GroupMachine, "home-writable", StatusFail, err.Error(), "make VTPEER_HOME reachable by this user, or point VTPEER_HOME elsewhere")
		r.add(GroupMachine, "home-lock", StatusSkip, "needs home-writable", "")
		return
	case !fi.IsDir():
		r.add(GroupMachine, "home-writable", StatusFail, home+" is not a directory", "point VTPEER_HOME at a directory")
		r.add(GroupMachine, "home-lock", StatusSkip, "needs home-writable", "")
		return
	}
	if f, err := os.CreateTemp(home, ".vtpeer-doctor-*"); err != nil {
		r.add(GroupMachine, "home-writable", StatusFail, fmt.Sprintf("%s is not writable: %v", home, err),
			"make it writable by the user running vtpeer (chown/chmod), or point VTPEER_HOME at a writable directory")
	} else {
		_ = f.Close()
		_ = os.Remove(f.Name())
		r.add(GroupMachine, "home-writable", StatusOK, home+" is a writable directory", "")
	}
	var locked, seen []string
	// The bbolt files a VTPEER_HOME may hold; each is locked by the process that has it open.
	for _, name := range []string{"vtpeer.db", "postbox.db", "mailbox.db"} {
		p := filepath.Join(home, name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		seen = append(seen, name)
		db, err := bbolt.Open(p, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
		if errors.Is(err, berrors.ErrTimeout) {
			locked = append(locked, name)
			continue
		}
		if err != nil {
			r.add(GroupMachine, "home-lock", StatusFail, fmt.Sprintf("open %s: %v", p, err), "move the damaged file aside (vtpeer starts a fresh one) and keep a copy for a bug report")
			return
		}
		_ = db.Close()
	}
	switch {
	case len(locked) > 0:
		r.add(GroupMachine, "home-lock", StatusWarn, fmt.Sprintf("%s in %s held by another process", strings.Join(locked, ", "), home),
			"another vtpeer uses this VTPEER_HOME: stop it, or give this one its own (export VTPEER_HOME=~/.vtpeer-2)")
	case len(seen) == 0:
		r.add(GroupMachine, "home-lock", StatusOK, "no databases yet", "")
	default:
		r.add(GroupMachine, "home-lock", StatusOK, strings.Join(seen, ", ")+" not in use by another process", "")
	}
}

// checkKeystore lists the keystore's accounts and, with a password, tries
// it on the chosen account.
func checkKeystore(ctx context.Context, o *Options, r *Report) {
	dir := o.Keystore
	if dir == "" && o.Home != "" {
		dir = filepath.Join(o.Home, "keystore")
	}
	if dir == "" {
		r.add(GroupMachine, "keystore", StatusSkip, "no VTPEER_HOME or keystore given", "")
		r.add(GroupMachine, "password", StatusSkip, "needs a keystore", "")
		return
	}
	noAccount := "create one with `vtpeer account new` (or import one) to send tips and prove an address; without, join is anonymous"
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		r.add(GroupMachine, "keystore", StatusWarn, "no keystore at "+dir, noAccount)
		r.add(GroupMachine, "password", StatusSkip, "needs an account", "")
		return
	}
	ks, err := tips.OpenKeystore(dir, false)
	var accs []tips.Account
	if err == nil {
		accs, err = ks.List()
	}
	if err != nil {
		r.add(GroupMachine, "keystore", StatusFail, err.Error(), "make the keystore readable by this user (its files are 0600, the directory 0700)")
		r.add(GroupMachine, "password", StatusSkip, "needs a keystore", "")
		return
	}
	if len(accs) == 0 {
		r.add(GroupMachine, "keystore", StatusWarn, "no account in "+dir, noAccount)
		r.add(GroupMachine, "password", StatusSkip, "needs an account", "")
		return
	}
	addrs := make([]string, len(accs))
	for i, a := range accs {
		addrs[i] = a.Address.Hex()
	}
	r.add(GroupMachine, "keystore", StatusOK, fmt.Sprintf("%d account(s) in %s: %s", len(accs), dir, strings.Join(addrs, ", ")), "")
	acc, err := ks.Find(o.Account)
	switch {
	case errors.Is(err, tips.ErrAmbiguousAccount):
		r.add(GroupMachine, "password", StatusWarn, "several accounts and no --account: join and tip will not pick one",
			"pass --account 0x… (see `vtpeer account list`)")
		return
	case err != nil:
		r.add(GroupMachine, "password", StatusFail, err.Error(), "pass the address of an account in this keystore (see `vtpeer account list`)")
		return
	}
	if !o.HavePassword {
		r.add(GroupMachine, "password", StatusSkip, "no --password-file or VTPEER_PASSWORD: not tried", "")
		return
	}
	signer, err := ks.Unlock(ctx, acc.Address, o.Password)
	if err != nil {
		r.add(GroupMachine, "password", StatusFail, fmt.Sprintf("unlock %s: %v", acc.Address.Hex(), err),
			"check the file given with --password-file or VTPEER_PASSWORD (one line, the password this key was created with)")
		return
	}
	_ = signer.Close()
	r.add(GroupMachine, "password", StatusOK, "the password unlocks "+acc.Address.Hex(), "")
}
