package tips

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/verytippers/vtpeer/internal/fullfs"
)

// TestDeskVerdictsAndMetrics: a valid tip is accepted with a signed
// receipt, its replay and a tampered copy are refused with their codes, and
// the metrics count each outcome.
func TestDeskVerdictsAndMetrics(t *testing.T) {
	t.Parallel()
	newSigner := func() *KeySigner {
		k, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		return NewKeySigner(k)
	}
	tipper, recipient, someoneElse := newSigner(), newSigner(), newSigner()
	reg := prometheus.NewRegistry()
	desk, err := OpenDesk(filepath.Join(t.TempDir(), "vtpeer.db"), &DeskOptions{Signer: recipient,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = desk.Close() })
	amount, _ := ParseAmount("2")
	sm, err := Sign(tipper, NewMeta(tipper.Address(), recipient.Address(), amount, "", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(sm)
	notMine, err := Sign(tipper, NewMeta(tipper.Address(), someoneElse.Address(), amount, "", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	notMineBody, _ := json.Marshal(notMine)
	// The last hex digit of messageHash, changed: the claimed hash is wrong.
	last := body[len(body)-3]
	flip := byte('0')
	if last == '0' {
		flip = '1'
	}
	tampered := []byte(string(body[:len(body)-3]) + string(flip) + `"}`)

	tests := []struct {
		name     string
		body     []byte
		accepted bool
		code     string
	}{
		{"valid", body, true, ""},
		{"replay", body, false, CodeReplay},
		{"garbage", []byte(`{"type":"signed-meta"`), false, CodeMalformed},
		{"tampered", tampered, false, CodeMessageHashMismatch},
		{"someone else's tip", notMineBody, false, CodeWrongRecipient},
	}
	for _, tt := range tests { // in order: the replay needs the first
		ev, r := desk.Judge(context.Background(), tt.body)
		if ev.Accepted != tt.accepted || r.Accepted != tt.accepted || (tt.code != "" && ev.Code != tt.code) || (!tt.accepted && ev.Reason == "") {
			t.Fatalf("%s: event %+v receipt %+v", tt.name, ev, r)
		}
		if signer, err := VerifyReceipt(&r); err != nil || signer != recipient.Address() {
			t.Fatalf("%s: receipt signature: %v (%v)", tt.name, err, signer)
		}
	}
	if got := counterValue(t, desk.metrics.received.WithLabelValues("verified")); got != 1 {
		t.Errorf("verified = %v, want 1", got)
	}
	if got := counterValue(t, desk.metrics.received.WithLabelValues("rejected")); got != 4 {
		t.Errorf("rejected = %v, want 4", got)
	}
	if got := counterValue(t, desk.metrics.rejected.WithLabelValues(CodeReplay)); got != 1 {
		t.Errorf("rejected{replay} = %v, want 1", got)
	}
}

// counterValue reads a counter's current value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestDeskFullDisk: with the store's filesystem full, every tip is either
// refused with code store (and not marked seen) or accepted with its forward
// queued — never accepted with "forwarded: failed", which lost tips. Once the
// space returns, the refused tips sent again are accepted, and the
// orchestrator gets every accepted tip exactly once.
func TestDeskFullDisk(t *testing.T) {
	t.Parallel()
	home := fullfs.Tiny(t, "512k")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var (
		mu       sync.Mutex
		posts    = map[string]int{} // messageHash → 2xx answers
		diskFull atomic.Bool
	)
	orch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var fb ForwardBody
		if err := json.NewDecoder(r.Body).Decode(&fb); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if diskFull.Load() { // keep the forwarder from writing its outcome while the disk is full
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		posts[fb.MessageHash]++
		mu.Unlock()
	}))
	defer orch.Close()

	forwarded := make(chan string, 256)
	tipper, recipient := newTestSigner(t), newTestSigner(t)
	desk, err := OpenDesk(filepath.Join(home, "vtpeer.db"), &DeskOptions{Signer: recipient, ForwardURL: orch.URL,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnForward: func(hash common.Hash, state, _ string) {
			if state == ForwardDelivered {
				forwarded <- hash.Hex()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	amount, _ := ParseAmount("1")
	newTip := func() []byte {
		sm, err := Sign(tipper, NewMeta(tipper.Address(), recipient.Address(), amount, "a cid long enough to matter", time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(sm)
		return b
	}
	// Some tips before the disk fills, so the store has grown a little.
	accepted := map[string]bool{}
	for range 8 {
		ev, r := desk.Judge(ctx, newTip())
		if !r.Accepted || ev.Forwarded != ForwardQueued {
			t.Fatalf("before the disk fills: %+v", ev)
		}
		accepted[ev.MessageHash] = true
	}

	diskFull.Store(true)
	release := fullfs.Fill(t, home)
	var refused [][]byte
	for range 24 {
		body := newTip()
		ev, r := desk.Judge(ctx, body)
		switch {
		case r.Accepted && ev.Forwarded == ForwardQueued:
			accepted[ev.MessageHash] = true // the transaction fitted in pages the store already had
		case !r.Accepted && ev.Code == CodeStore && r.Code == CodeStore:
			if seen, err := desk.store.Seen(common.HexToHash(ev.MessageHash)); err != nil || seen {
				t.Fatalf("a tip refused for the store is marked seen (%v)", err)
			}
			refused = append(refused, body)
		default:
			t.Fatalf("disk full: accepted=%t code=%q forwarded=%q reason=%q", r.Accepted, r.Code, r.Forwarded, r.Reason)
		}
	}
	if len(refused) == 0 {
		t.Fatal("the full disk refused no tip: the test did not fill it")
	}
	t.Logf("disk full: %d tips refused (store), %d accepted", len(refused), len(accepted)-8)

	release()
	diskFull.Store(false)
	for _, body := range refused {
		ev, r := desk.Judge(ctx, body)
		if !r.Accepted || ev.Forwarded != ForwardQueued {
			t.Fatalf("resent after the space returned: accepted=%t code=%q reason=%q", r.Accepted, r.Code, r.Reason)
		}
		accepted[ev.MessageHash] = true
		if ev, _ := desk.Judge(ctx, body); ev.Code != CodeReplay {
			t.Fatalf("third copy: code %q, want replay", ev.Code)
		}
	}
	for done := map[string]bool{}; len(done) < len(accepted); {
		select {
		case h := <-forwarded:
			done[h] = true
		case <-ctx.Done():
			t.Fatalf("forwarded %d of %d tips", len(done), len(accepted))
		}
	}
	if err := desk.Close(); err != nil { // waits for the forwarder
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for h := range accepted {
		if posts[h] != 1 {
			t.Errorf("tip %s forwarded %d times, want 1", h, posts[h])
		}
	}
	if len(posts) != len(accepted) {
		t.Errorf("orchestrator got %d tips, want %d", len(posts), len(accepted))
	}
}

// newTestSigner is a signer with a fresh random key.
func newTestSigner(t *testing.T) *KeySigner {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return NewKeySigner(k)
}

// TestDeskQueuedTips: a tip signed two days ago is too old live but
// accepted when queued; its second copy is a Duplicate with an accepting
// receipt (already_accepted), while a live copy of an accepted tip is a
// replay; a tip older than QueuedMaxAge is refused even when queued.
func TestDeskQueuedTips(t *testing.T) {
	t.Parallel()
	tipper, recipient := newTestSigner(t), newTestSigner(t)
	desk, err := OpenDesk(filepath.Join(t.TempDir(), "vtpeer.db"), &DeskOptions{Signer: recipient})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = desk.Close() })
	amount, _ := ParseAmount("1")
	sign := func(age time.Duration) []byte {
		sm, err := Sign(tipper, NewMeta(tipper.Address(), recipient.Address(), amount, "", time.Now().Add(-age)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(sm)
		return b
	}
	twoDays, tooOld := sign(48*time.Hour), sign(QueuedMaxAge+time.Hour)
	ctx := context.Background()
	tests := []struct {
		name     string
		queued   bool
		body     []byte
		accepted bool // the receipt's
		code     string
		dup      bool
	}{
		{"two days old, live", false, twoDays, false, CodeExpired, false},
		{"two days old, queued", true, twoDays, true, "", false},
		{"second queued copy", true, twoDays, true, CodeAlreadyAccepted, true},
		{"live copy of it", false, twoDays, false, CodeExpired, false},
		{"older than QueuedMaxAge", true, tooOld, false, CodeExpired, false},
	}
	for _, tt := range tests { // in order
		judge := desk.Judge
		if tt.queued {
			judge = desk.JudgeQueued
		}
		v, r := judge(ctx, tt.body)
		if r.Accepted != tt.accepted || v.Code != tt.code || v.Duplicate != tt.dup {
			t.Fatalf("%s: verdict %+v receipt accepted=%v; want accepted=%v code=%q dup=%v", tt.name, v, r.Accepted, tt.accepted, tt.code, tt.dup)
		}
	}
	fresh := sign(0)
	if v, _ := desk.JudgeQueued(ctx, fresh); !v.Accepted {
		t.Fatalf("fresh queued tip: %+v", v)
	}
	if v, r := desk.Judge(ctx, fresh); v.Code != CodeReplay || r.Accepted {
		t.Fatalf("live copy of an accepted queued tip: %+v", v)
	}
}

// TestOpenDeskOptions: a bad forward URL and a second desk on one file are
// refused with their sentinels.
func TestOpenDeskOptions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vtpeer.db")
	if _, err := OpenDesk(path, &DeskOptions{ForwardURL: "ftp://x"}); !errors.Is(err, ErrForwardURL) {
		t.Fatalf("ftp forward URL: %v", err)
	}
	d, err := OpenDesk(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := OpenDesk(path, nil); !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("second desk: %v", err)
	}
	if _, err := OpenDesk(path, &DeskOptions{MaxAge: -1}); err == nil {
		t.Fatal("negative MaxAge accepted")
	}
}
