package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/verytippers/vtpeer/internal/fullfs"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// TestTipDeskVerdictsAndMetrics: a valid tip is accepted with a signed
// receipt, its replay and a tampered copy are refused with their codes, and
// the metrics count each outcome.
func TestTipDeskVerdictsAndMetrics(t *testing.T) {
	t.Parallel()
	newSigner := func() *tips.KeySigner {
		k, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		return tips.NewKeySigner(k)
	}
	tipper, recipient, someoneElse := newSigner(), newSigner(), newSigner()
	reg := prometheus.NewRegistry()
	desk, err := openTipDesk(tipDeskConfig{home: t.TempDir(), maxAge: tips.DefaultMaxAge, signer: recipient,
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)), registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = desk.Close() })
	amount, _ := tips.ParseAmount("2")
	sm, err := tips.Sign(tipper, newTipMeta(tipper.Address(), recipient.Address(), amount, ""))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(sm)
	notMine, err := tips.Sign(tipper, newTipMeta(tipper.Address(), someoneElse.Address(), amount, ""))
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
		{"replay", body, false, tips.CodeReplay},
		{"garbage", []byte(`{"type":"signed-meta"`), false, tips.CodeMalformed},
		{"tampered", tampered, false, tips.CodeMessageHashMismatch},
		{"someone else's tip", notMineBody, false, codeWrongRecipient},
	}
	for _, tt := range tests { // in order: the replay needs the first
		ev, r := desk.receive(context.Background(), "peer", tt.body)
		if ev.Verified != tt.accepted || r.Accepted != tt.accepted || (tt.code != "" && ev.Code != tt.code) || (!tt.accepted && ev.Reason == "") {
			t.Fatalf("%s: event %+v receipt %+v", tt.name, ev, r)
		}
		if signer, err := tips.VerifyReceipt(&r); err != nil || signer != recipient.Address() {
			t.Fatalf("%s: receipt signature: %v (%v)", tt.name, err, signer)
		}
	}
	if got := counterValue(t, desk.metrics.received.WithLabelValues("verified")); got != 1 {
		t.Errorf("verified = %v, want 1", got)
	}
	if got := counterValue(t, desk.metrics.received.WithLabelValues("rejected")); got != 4 {
		t.Errorf("rejected = %v, want 4", got)
	}
	if got := counterValue(t, desk.metrics.rejected.WithLabelValues(tips.CodeReplay)); got != 1 {
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

// TestTipDeskFullDisk: with the store's filesystem full, every tip is either
// refused with code store (and not marked seen) or accepted with its forward
// queued — never accepted with "forwarded: failed", which lost tips. Once the
// space returns, the refused tips sent again are accepted, and the
// orchestrator gets every accepted tip exactly once.
func TestTipDeskFullDisk(t *testing.T) {
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
		var fb tips.ForwardBody
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
	desk, err := openTipDesk(tipDeskConfig{home: home, maxAge: tips.DefaultMaxAge, signer: recipient, forwardURL: orch.URL,
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		onForward: func(hash, state, _ string) {
			if state == tips.ForwardDelivered {
				forwarded <- hash
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	amount, _ := tips.ParseAmount("1")
	newTip := func() []byte {
		sm, err := tips.Sign(tipper, newTipMeta(tipper.Address(), recipient.Address(), amount, "a cid long enough to matter"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(sm)
		return b
	}
	// Some tips before the disk fills, so the store has grown a little.
	accepted := map[string]bool{}
	for range 8 {
		ev, r := desk.receive(ctx, "peer", newTip())
		if !r.Accepted || ev.Forwarded != tips.ForwardQueued {
			t.Fatalf("before the disk fills: %+v", ev)
		}
		accepted[ev.MessageHash] = true
	}

	diskFull.Store(true)
	release := fullfs.Fill(t, home)
	var refused [][]byte
	for range 24 {
		body := newTip()
		ev, r := desk.receive(ctx, "peer", body)
		switch {
		case r.Accepted && ev.Forwarded == tips.ForwardQueued:
			accepted[ev.MessageHash] = true // the transaction fitted in pages the store already had
		case !r.Accepted && ev.Code == tips.CodeStore && r.Code == tips.CodeStore:
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
		ev, r := desk.receive(ctx, "peer", body)
		if !r.Accepted || ev.Forwarded != tips.ForwardQueued {
			t.Fatalf("resent after the space returned: accepted=%t code=%q reason=%q", r.Accepted, r.Code, r.Reason)
		}
		accepted[ev.MessageHash] = true
		if ev, _ := desk.receive(ctx, "peer", body); ev.Code != tips.CodeReplay {
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
func newTestSigner(t *testing.T) *tips.KeySigner {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return tips.NewKeySigner(k)
}
