package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

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
