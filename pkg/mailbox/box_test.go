package mailbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// clock is an injectable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func mbox(i int) string { return seal.MailboxID([]byte{byte(i), byte(i >> 8)}) }

func openBox(t *testing.T, path string, o *Options) *Box {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "sub", "mail.db")
	}
	b, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func msgs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func equalMsgs(t *testing.T, got, want [][]byte) {
	t.Helper()
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestPutTakeOrder(t *testing.T) {
	t.Parallel()
	b := openBox(t, "", nil)
	for _, m := range []string{"one", "two", "three"} {
		if err := b.Put("room", mbox(1), []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Put("other room", mbox(1), []byte("elsewhere")); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s != (Stats{Boxes: 2, Messages: 4, Bytes: 20}) {
		t.Fatalf("stats %+v", s)
	}
	got, err := b.Take("room", mbox(1))
	if err != nil {
		t.Fatal(err)
	}
	equalMsgs(t, got, msgs("one", "two", "three"))
	if got, err = b.Take("room", mbox(1)); err != nil || got != nil {
		t.Fatalf("second take: %q %v", got, err)
	}
	if got, _ = b.Take("room", mbox(2)); got != nil {
		t.Fatalf("unknown box: %q", got)
	}
	if s := b.Stats(); s != (Stats{Boxes: 1, Messages: 1, Bytes: 9}) {
		t.Fatalf("stats %+v", s)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	opts := Options{MaxMessagesPerBox: 3, MaxBytesPerBox: 10, MaxMessageBytes: 6, MaxBoxes: 2}
	tests := []struct {
		name string
		put  func(b *Box) error
		want error
	}{
		{"messages per box", func(b *Box) error {
			for range 3 {
				if err := b.Put("r", mbox(1), []byte("a")); err != nil {
					return err
				}
			}
			return b.Put("r", mbox(1), []byte("a"))
		}, ErrMailboxFull},
		{"bytes per box", func(b *Box) error {
			if err := b.Put("r", mbox(1), []byte("123456")); err != nil {
				return err
			}
			return b.Put("r", mbox(1), []byte("12345"))
		}, ErrMailboxBytes},
		{"message size", func(b *Box) error { return b.Put("r", mbox(1), []byte("1234567")) }, ErrTooBig},
		{"boxes", func(b *Box) error {
			for i := range 2 {
				if err := b.Put("r", mbox(i), []byte("a")); err != nil {
					return err
				}
			}
			return b.Put("r", mbox(2), []byte("a"))
		}, ErrTooManyBoxes},
		{"boxes across rooms", func(b *Box) error {
			for _, r := range []string{"r1", "r2"} {
				if err := b.Put(r, mbox(1), []byte("a")); err != nil {
					return err
				}
			}
			return b.Put("r3", mbox(1), []byte("a"))
		}, ErrTooManyBoxes},
		{"empty", func(b *Box) error { return b.Put("r", mbox(1), nil) }, ErrEmpty},
		{"empty room", func(b *Box) error { return b.Put("", mbox(1), []byte("a")) }, ErrBadRoom},
		{"bad utf-8 room", func(b *Box) error { return b.Put("\xff", mbox(1), []byte("a")) }, ErrBadRoom},
		{"bad id", func(b *Box) error { return b.Put("r", "0x1234", []byte("a")) }, ErrBadMailboxID},
		{"upper-case id", func(b *Box) error { return b.Put("r", "ABCDEF0123456789ABCDEF0123456789", []byte("a")) }, ErrBadMailboxID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := opts
			reg := prometheus.NewRegistry()
			o.Registry = reg
			b := openBox(t, "", &o)
			if err := tt.put(b); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if n := gather(t, reg, "vtpeer_mailbox_rejected_total"); n != 1 {
				t.Fatalf("rejected_total = %v", n)
			}
		})
	}
}

func TestLimitFreedByTake(t *testing.T) {
	t.Parallel()
	b := openBox(t, "", &Options{MaxMessagesPerBox: 1, MaxBoxes: 1})
	if err := b.Put("r", mbox(1), []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put("r", mbox(1), []byte("b")); !errors.Is(err, ErrMailboxFull) {
		t.Fatal(err)
	}
	if err := b.Put("r", mbox(2), []byte("b")); !errors.Is(err, ErrTooManyBoxes) {
		t.Fatal(err)
	}
	if _, err := b.Take("r", mbox(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Put("r", mbox(2), []byte("b")); err != nil {
		t.Fatal(err)
	}
}

func TestTTL(t *testing.T) {
	t.Parallel()
	clk := newClock()
	reg := prometheus.NewRegistry()
	b := openBox(t, "", &Options{TTL: 2 * time.Hour, MaxMessagesPerBox: 2, MaxBoxes: 2, Now: clk.Now, Registry: reg})
	mustPut := func(room, id, m string) {
		t.Helper()
		if err := b.Put(room, id, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	mustPut("r", mbox(1), "old")
	clk.Add(time.Hour)
	mustPut("r", mbox(1), "new")
	mustPut("r", mbox(2), "other")
	clk.Add(time.Hour) // "old" is exactly TTL old: expired
	got, err := b.Take("r", mbox(1))
	if err != nil {
		t.Fatal(err)
	}
	equalMsgs(t, got, msgs("new"))

	// Expired messages do not count against the limits.
	mustPut("r", mbox(3), "a")
	mustPut("r", mbox(3), "b")
	clk.Add(2 * time.Hour)
	mustPut("r", mbox(3), "c") // box 3 was full of expired mail
	mustPut("r", mbox(4), "d") // two boxes exist, but box 2 is expired: pruned to make room
	if n := gather(t, reg, "vtpeer_mailbox_expired_total"); n != 4 {
		t.Fatalf("expired_total = %v", n)
	}
	if s := b.Stats(); s != (Stats{Boxes: 2, Messages: 2, Bytes: 2}) {
		t.Fatalf("stats %+v", s)
	}
	clk.Add(2 * time.Hour)
	n, err := b.Prune()
	if err != nil || n != 2 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if s := b.Stats(); s != (Stats{}) {
		t.Fatalf("stats after prune %+v", s)
	}
	if gather(t, reg, "vtpeer_mailbox_messages") != 0 || gather(t, reg, "vtpeer_mailbox_boxes") != 0 {
		t.Fatal("gauges not zero")
	}
	if n, err := b.Prune(); err != nil || n != 0 {
		t.Fatalf("second prune: %d %v", n, err)
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mail.db")
	b, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"x", "yy", "zzz"} {
		if err := b.Put("room", mbox(7), []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(path, &Options{LockTimeout: 20 * time.Millisecond}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second open: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Put("room", mbox(7), []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	if _, err := b.Take("room", mbox(7)); !errors.Is(err, ErrClosed) {
		t.Fatalf("take after close: %v", err)
	}
	reg := prometheus.NewRegistry()
	b = openBox(t, path, &Options{Registry: reg})
	if s := b.Stats(); s != (Stats{Boxes: 1, Messages: 3, Bytes: 6}) {
		t.Fatalf("stats after reopen %+v", s)
	}
	if gather(t, reg, "vtpeer_mailbox_bytes") != 6 {
		t.Fatal("bytes gauge not restored")
	}
	if err := b.Put("room", mbox(7), []byte("4")); err != nil {
		t.Fatal(err)
	}
	got, err := b.Take("room", mbox(7))
	if err != nil {
		t.Fatal(err)
	}
	equalMsgs(t, got, msgs("x", "yy", "zzz", "4"))
}

func TestOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "a.db"), &Options{MaxBoxes: -1}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("negative: %v", err)
	}
	reg := prometheus.NewRegistry()
	openBox(t, filepath.Join(dir, "b.db"), &Options{Registry: reg})
	if _, err := Open(filepath.Join(dir, "c.db"), &Options{Registry: reg}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("registered twice: %v", err)
	}
	b := openBox(t, filepath.Join(dir, "d.db"), nil)
	if b.opts.TTL != DefaultTTL || b.opts.MaxMessagesPerBox != 100 || b.opts.MaxBytesPerBox != 1<<20 ||
		b.opts.MaxMessageBytes != 48<<10 || b.opts.MaxBoxes != 10000 {
		t.Fatalf("defaults %+v", b.opts)
	}
	if DefaultMaxMessageBytes != seal.MaxMailSize {
		t.Fatal("default message limit differs from seal.MaxMailSize")
	}
}

// TestConcurrent runs producers and takers on the same boxes under -race:
// every message is taken exactly once and, per box, in arrival order.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	const boxes, perBox = 4, 50
	b := openBox(t, "", &Options{MaxMessagesPerBox: perBox})
	var wg sync.WaitGroup
	taken := make([][][]byte, boxes)
	done := make(chan struct{})
	for i := range boxes {
		wg.Go(func() {
			for j := range perBox {
				if err := b.Put("r", mbox(i), fmt.Appendf(nil, "%03d", j)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var tk sync.WaitGroup
	for i := range boxes {
		tk.Go(func() {
			for {
				select {
				case <-done:
					got, err := b.Take("r", mbox(i))
					if err != nil {
						t.Error(err)
					}
					taken[i] = append(taken[i], got...)
					return
				default:
				}
				got, err := b.Take("r", mbox(i))
				if err != nil {
					t.Error(err)
					return
				}
				taken[i] = append(taken[i], got...)
			}
		})
	}
	wg.Wait()
	close(done)
	tk.Wait()
	for i := range boxes {
		if len(taken[i]) != perBox {
			t.Fatalf("box %d: %d messages taken", i, len(taken[i]))
		}
		for j, m := range taken[i] {
			if string(m) != fmt.Sprintf("%03d", j) {
				t.Fatalf("box %d: message %d is %q", i, j, m)
			}
		}
	}
	if s := b.Stats(); s != (Stats{}) {
		t.Fatalf("stats %+v", s)
	}
}

// gather returns the sum of the samples of the named metric.
func gather(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestMaxTotalBytes: the store as a whole refuses mail past MaxTotalBytes
// (issue 8, item 5: fresh mailbox ids each took 1 MiB, so only MaxBoxes
// bounded the disk), after pruning expired mail; taking mail frees room.
func TestMaxTotalBytes(t *testing.T) {
	t.Parallel()
	clk := newClock()
	reg := prometheus.NewRegistry()
	b := openBox(t, "", &Options{MaxTotalBytes: 10, TTL: time.Hour, Now: clk.Now, Registry: reg})
	for i := range 3 {
		if err := b.Put("r", mbox(i), []byte("123")); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if err := b.Put("r", mbox(9), []byte("12")); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("11 bytes in a 10-byte store: %v", err)
	}
	if err := b.Put("r", mbox(0), []byte("12")); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("into an existing box: %v", err)
	}
	if err := b.Put("r", mbox(9), []byte("1")); err != nil {
		t.Fatalf("exactly 10 bytes: %v", err)
	}
	if n := gather(t, reg, "vtpeer_mailbox_rejected_total"); n != 2 {
		t.Fatalf("rejected_total = %v", n)
	}
	if _, err := b.Take("r", mbox(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Put("r", mbox(8), []byte("123")); err != nil {
		t.Fatalf("after a take: %v", err)
	}
	clk.Add(time.Hour) // all expired: pruned to make room
	if err := b.Put("r", mbox(7), []byte("1234567890")); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if s := b.Stats(); s.Bytes != 10 || s.Boxes != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestDiskBound: filled to MaxTotalBytes with the largest messages, each
// to a fresh mailbox (the flood), then half taken and refilled, the
// file stays within the bound docs/SECURITY.md states: 1.15 × the cap
// plus 32 MiB (bbolt grows its file in 16 MiB steps) plus 4 KiB per
// mailbox. VTPEER_DISK_CAP_MIB sets the cap (default 4);
// the documented figures come from 64 and 256.
func TestDiskBound(t *testing.T) {
	t.Parallel()
	capMiB := 4
	if v, err := strconv.Atoi(os.Getenv("VTPEER_DISK_CAP_MIB")); err == nil && v > 0 {
		capMiB = v
	}
	total := capMiB << 20
	path := filepath.Join(t.TempDir(), "m.db")
	b := openBox(t, path, &Options{MaxTotalBytes: total, MaxBoxes: 1 << 30})
	blob := make([]byte, DefaultMaxMessageBytes)
	fill := func(from int) int {
		for i := from; ; i++ {
			err := b.Put("r", fmt.Sprintf("%032x", i+1), blob)
			if errors.Is(err, ErrStoreFull) {
				return i
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	start := time.Now()
	n := fill(0)
	took := time.Since(start)
	full := size()
	for i := range n / 2 {
		if _, err := b.Take("r", fmt.Sprintf("%032x", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	end := fill(n)
	churned := size()
	t.Logf("cap %d MiB: %d × %d B stored in %v; file %.1f MiB (%.2f × cap), after taking half and refilling %.1f MiB (%.2f × cap)",
		capMiB, n, len(blob), took.Round(time.Millisecond), float64(full)/(1<<20), float64(full)/float64(total),
		float64(churned)/(1<<20), float64(churned)/float64(total))
	if s := b.Stats(); s.Bytes > total {
		t.Fatalf("store holds %d bytes over the %d cap", s.Bytes, total)
	}
	bound := int64(total)*115/100 + 32<<20 + int64(end)*4096
	if full > bound || churned > bound {
		t.Fatalf("file %d then %d bytes, above the documented bound %d", full, churned, bound)
	}
}
