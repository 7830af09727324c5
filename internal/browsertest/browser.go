package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// StartTimeout bounds how long Start waits for the browser to come up (a
// shared, busy machine can be slow).
const StartTimeout = 60 * time.Second

// Browser is one headless Chromium process, stopped when its test ends.
type Browser struct {
	ctx    context.Context // the browser's first (blank) tab; parent of every Tab
	cancel context.CancelFunc
	out    *limitedBuffer // the browser's stdout/stderr, shown when the test fails
	Path   string         // the executable that runs
}

// Find returns the Chromium executable to use, or "" when none is
// installed. $VTPEER_CHROMIUM wins when set.
func Find() string {
	if p := os.Getenv("VTPEER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// InCI reports whether $CI says this is a CI run (set, and not "false" or
// "0"), where a missing browser is a failure rather than a skip.
func InCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0"
}

// Flags are the Chromium command-line switches Start uses (without the
// executable, --user-data-dir and --no-sandbox, which depend on the run).
func Flags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// mDNS host candidates are names pion cannot resolve: use addresses
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns,Translate"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		// tabs in the background must keep their timers and network going
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-hang-monitor", true),
		chromedp.Flag("disable-ipc-flooding-protection", true),
		chromedp.Flag("disable-popup-blocking", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.WindowSize(1280, 900),
	}
}

// Start starts a headless Chromium for t and stops it when t ends. Without
// a browser it skips t (fails it in CI); a browser that does not start
// within StartTimeout fails t.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := Find()
	if path == "" {
		msg := "no Chromium found (install it with `apt-get install -y chromium`, or set VTPEER_CHROMIUM to its path)"
		if InCI() {
			t.Fatalf("browsertest: %s; CI is set, so this is a failure", msg)
		}
		t.Skipf("browsertest: %s: skipping the browser test", msg)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("browsertest: browser %s: %v", path, err)
	}
	out := &limitedBuffer{max: 64 << 10}
	opts := append(Flags(),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(out),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	b := &Browser{ctx: bctx, out: out, Path: path, cancel: func() { bcancel(); acancel() }}
	started := make(chan error, 1)
	go func() {
		// the first Run starts the browser, which lives as long as bctx:
		// no timeout on it, the watchdog below cancels instead
		started <- chromedp.Do(bctx, chromedp.Navigate("about:blank"))
	}()
	select {
	case err := <-started:
		if err != nil {
			b.cancel()
			t.Fatalf("browsertest: start %s: %v\n%s", path, err, out.String())
		}
	case <-time.After(StartTimeout):
		b.cancel()
		<-started
		t.Fatalf("browsertest: %s did not start within %v\n%s", path, StartTimeout, out.String())
	}
	t.Cleanup(func() {
		b.cancel()
		if t.Failed() {
			if s := out.relevant(); s != "" {
				t.Logf("browser output:\n%s", s)
			}
		}
	})
	return b
}

// Version returns the browser's product and version ("Chrome/156.0…").
func (b *Browser) Version(ctx context.Context) (string, error) {
	return Eval[string](ctx, &Tab{ctx: b.ctx}, "navigator.userAgent")
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// relevant is the output without the lines a container always produces
// (no D-Bus, no UPower), which say nothing about a failure.
func (l *limitedBuffer) relevant() string {
	var keep []string
	for _, line := range strings.Split(l.String(), "\n") {
		if line != "" && !strings.Contains(line, "dbus") && !strings.Contains(line, "unexpected operator") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// errNoDeadline is returned by the helpers when the caller's ctx has none:
// a browser wait without a bound could hang the test.
var errNoDeadline = errors.New("browsertest: ctx has no deadline")

func needDeadline(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		return fmt.Errorf("%w (use context.WithTimeout)", errNoDeadline)
	}
	return nil
}
