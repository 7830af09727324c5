package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/verytippers/vtpeer/pkg/tips"
)

// Application message kinds carried over the sealed peer session.
const (
	kindChat    = "chat"    // body: chatBody
	kindTip     = "tip"     // body: signed-meta JSON (tips.SignedMeta)
	kindReceipt = "receipt" // body: tips.Receipt JSON
	// kindQueuedTip is a tip that waited for its recipient (sender's outbox
	// or the server's mailbox): signed when it was queued, so it is judged
	// against queuedMaxAge instead of --max-age; a second copy (outbox and
	// mailbox both deliver) is answered as already accepted.
	kindQueuedTip = "tip-queued"
)

// queuedMaxAge is how old a queued tip may be: the server mailbox's TTL.
const queuedMaxAge = 7 * 24 * time.Hour

// codeAlreadyAccepted answers a second copy of a queued tip.
const codeAlreadyAccepted = "already_accepted"

// chatBody is the body of a chat message.
type chatBody struct {
	ID   string `json:"id,omitempty"` // set on messages kept for offline delivery
	Text string `json:"text"`
}

// codeWrongRecipient refuses a valid tip whose `to` is not the receiver's
// own account (the receiver has one): it is not this receiver's to accept,
// record or forward.
const codeWrongRecipient = "wrong_recipient"

// tipEvent is what the receiver reports about one incoming tip.
type tipEvent struct {
	Peer            string `json:"peer"`
	From            string `json:"from,omitempty"`
	To              string `json:"to,omitempty"`
	Amount          string `json:"amount,omitempty"`
	AmountVery      string `json:"amountVery,omitempty"`
	Cid             string `json:"cid"`
	MessageHash     string `json:"messageHash,omitempty"`
	Verified        bool   `json:"verified"`
	Code            string `json:"code,omitempty"`
	Reason          string `json:"reason,omitempty"`
	TimestampSigned bool   `json:"timestampSigned"`
	Forwarded       string `json:"forwarded,omitempty"`
}

// tipDesk is the receiving end of tips: verify, refuse replays, queue the
// forward, and write the (signed) receipt.
type tipDesk struct {
	verifier tips.Verifier
	queued   tips.Verifier // for kindQueuedTip
	store    *tips.Store
	fwd      *tips.Forwarder // nil: not forwarding
	signer   tips.Signer     // nil: receipts go unsigned
	log      *slog.Logger
	metrics  *tipMetrics // nil without --metrics-addr

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// tipDeskConfig configures openTipDesk.
type tipDeskConfig struct {
	home       string        // VTPEER_HOME: the store lives in home/vtpeer.db
	maxAge     time.Duration // oldest acceptable tip
	forwardURL string        // orchestrator endpoint, "" = no forwarding
	signer     tips.Signer
	logger     *slog.Logger
	onForward  func(hash, state, lastError string) // optional: forward outcomes
	registry   prometheus.Registerer               // optional: tip metrics
}

// tipMetrics count what the desk did with tips.
type tipMetrics struct {
	received  *prometheus.CounterVec // by result: verified, rejected
	rejected  *prometheus.CounterVec // by code
	forwarded *prometheus.CounterVec // by state: forwarded, queued (retry), failed
}

func newTipMetrics(reg prometheus.Registerer) (*tipMetrics, error) {
	m := &tipMetrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "tips",
			Name: "received_total", Help: "Tips received, by result (verified or rejected)."}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "tips",
			Name: "rejected_total", Help: "Tips rejected, by code (replay, expired, signer_mismatch, …)."}, []string{"code"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "tips",
			Name: "forward_attempts_total", Help: "Forward attempts to the orchestrator, by resulting state."}, []string{"state"}),
	}
	for _, c := range []prometheus.Collector{m.received, m.rejected, m.forwarded} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register tip metrics: %w", err)
		}
	}
	return m, nil
}

// count records one judged tip.
func (m *tipMetrics) count(ev tipEvent) {
	if m == nil {
		return
	}
	if ev.Verified {
		m.received.WithLabelValues("verified").Inc()
		return
	}
	m.received.WithLabelValues("rejected").Inc()
	m.rejected.WithLabelValues(ev.Code).Inc()
}

// openTipDesk opens the replay store and, with a forward URL, starts the
// forwarder (which also delivers what an earlier run left queued).
func openTipDesk(cfg tipDeskConfig) (*tipDesk, error) {
	store, err := tips.OpenStore(filepath.Join(cfg.home, "vtpeer.db"), &tips.StoreOptions{Logger: cfg.logger})
	if errors.Is(err, tips.ErrStoreInUse) {
		return nil, fmt.Errorf("%w: another vtpeer join uses %s; give this one its own VTPEER_HOME", err, cfg.home)
	}
	if err != nil {
		return nil, err
	}
	d := &tipDesk{verifier: tips.Verifier{MaxAge: cfg.maxAge}, queued: tips.Verifier{MaxAge: max(cfg.maxAge, queuedMaxAge)},
		store: store, signer: cfg.signer, log: cfg.logger}
	if cfg.registry != nil {
		if d.metrics, err = newTipMetrics(cfg.registry); err != nil {
			_ = store.Close()
			return nil, err
		}
	}
	// Keep replay records twice as long as any tip can be accepted.
	if _, err := store.Prune(time.Now().Add(-2 * max(d.maxAge(), d.queued.MaxAge))); err != nil {
		d.log.Warn("pruning the replay store failed", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	if cfg.forwardURL != "" {
		opts := &tips.ForwarderOptions{Logger: cfg.logger}
		opts.OnAttempt = func(h common.Hash, state, lastErr string) {
			if d.metrics != nil {
				d.metrics.forwarded.WithLabelValues(state).Inc()
			}
			if cfg.onForward != nil {
				cfg.onForward(h.Hex(), state, lastErr)
			}
		}
		d.fwd, err = tips.NewForwarder(store, cfg.forwardURL, opts)
		if err != nil {
			cancel()
			_ = store.Close()
			return nil, usageError(fmt.Errorf("--forward: %w", err))
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			_ = d.fwd.Run(ctx)
		}()
	}
	return d, nil
}

func (d *tipDesk) maxAge() time.Duration {
	if d.verifier.MaxAge > 0 {
		return d.verifier.MaxAge
	}
	return tips.DefaultMaxAge
}

// receive judges one tip body from peer and returns the event to show and
// the receipt to send back. Every outcome, good or bad, has a receipt.
func (d *tipDesk) receive(ctx context.Context, peer string, body []byte) (tipEvent, tips.Receipt) {
	ev, r := d.judge(ctx, peer, body, false)
	d.metrics.count(ev)
	return ev, r
}

// receiveQueued judges a tip that waited for us (kindQueuedTip). dup
// reports a copy of a tip accepted before: no event to show, and an
// accepting receipt so that its sender stops resending it.
func (d *tipDesk) receiveQueued(ctx context.Context, peer string, body []byte) (ev tipEvent, r tips.Receipt, dup bool) {
	ev, r = d.judge(ctx, peer, body, true)
	if ev.Code == codeAlreadyAccepted {
		return ev, r, true
	}
	d.metrics.count(ev)
	return ev, r, false
}

func (d *tipDesk) judge(ctx context.Context, peer string, body []byte, queued bool) (tipEvent, tips.Receipt) {
	ev := tipEvent{Peer: peer}
	sm, err := tips.ParseSignedMeta(body)
	if err != nil {
		ev.Code, ev.Reason = tips.CodeOf(err), reasonOf(err)
		return ev, d.receipt(common.Hash{}, ev)
	}
	m := sm.Meta
	ev.From, ev.To, ev.Cid = m.From.Hex(), m.To.Hex(), m.Cid
	if m.Amount != nil {
		ev.Amount, ev.AmountVery = m.Amount.String(), tips.FormatAmount(m.Amount)
	}
	hash := m.MessageHash()
	ev.MessageHash = hash.Hex()
	verifier := &d.verifier
	if queued {
		verifier = &d.queued
	}
	res, err := verifier.Verify(sm)
	if err != nil {
		ev.Code, ev.Reason = tips.CodeOf(err), reasonOf(err)
		return ev, d.receipt(hash, ev)
	}
	ev.TimestampSigned = res.TimestampSigned
	if d.signer != nil && m.To != d.signer.Address() {
		ev.Code = codeWrongRecipient
		ev.Reason = fmt.Sprintf("this tip is for %s, not for this account %s", m.To.Hex(), d.signer.Address().Hex())
		return ev, d.receipt(hash, ev)
	}
	switch err := d.accept(ctx, sm, res.Hash); {
	case errors.Is(err, tips.ErrReplay) && queued:
		ev.Code, ev.Reason = codeAlreadyAccepted, "this queued tip was delivered and accepted before"
		return ev, d.receipt(hash, ev)
	case errors.Is(err, tips.ErrReplay):
		ev.Code, ev.Reason = tips.CodeReplay, "this tip was already accepted"
		return ev, d.receipt(hash, ev)
	case err != nil:
		d.log.Error("recording a tip failed: refused, nothing recorded", "hash", ev.MessageHash, "err", err)
		ev.Code, ev.Reason = tips.CodeStore, "the receiver could not record the tip; nothing was recorded, send it again later"
		return ev, d.receipt(hash, ev)
	}
	ev.Verified = true
	if d.fwd != nil {
		ev.Forwarded = tips.ForwardQueued
	}
	return ev, d.receipt(hash, ev)
}

// accept records a verified tip for replay protection and, when the desk
// forwards, queues its forward in the same store transaction: both happen or
// neither does, so a tip is never accepted without its forward nor marked
// seen when it was refused.
func (d *tipDesk) accept(ctx context.Context, sm *tips.SignedMeta, hash common.Hash) error {
	if d.fwd != nil {
		return d.fwd.Accept(ctx, sm, time.Now())
	}
	return d.store.Record(hash, time.Now())
}

// receipt builds the receipt for ev, signed when the desk has an account.
// A second copy of a queued tip is answered as accepted: it was, earlier.
func (d *tipDesk) receipt(hash common.Hash, ev tipEvent) tips.Receipt {
	accepted := ev.Verified || ev.Code == codeAlreadyAccepted
	r := tips.Receipt{MessageHash: hash, Accepted: accepted, Code: ev.Code, Reason: ev.Reason, Forwarded: ev.Forwarded}
	if d.signer != nil {
		if err := tips.SignReceipt(d.signer, &r); err != nil {
			d.log.Error("signing a receipt failed", "err", err)
		}
	}
	return r
}

// Close stops the forwarder and closes the store.
func (d *tipDesk) Close() error {
	d.cancel()
	d.wg.Wait()
	return d.store.Close()
}

// reasonOf is the human reason of a tips error: the VerifyError's Reason when
// there is one, else the error text.
func reasonOf(err error) string {
	var ve *tips.VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return err.Error()
}
