package tips

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
)

// QueuedMaxAge is how old a queued tip (one that waited for its recipient in
// the sender's outbox or the server's mailbox, message kind "tip-queued")
// may be when it is judged: the server mailbox's TTL. A queued tip is judged
// against max(DeskOptions.MaxAge, QueuedMaxAge) instead of MaxAge alone.
const QueuedMaxAge = 7 * 24 * time.Hour

// Verdict codes the desk adds to the verification codes (Code* in errors.go).
const (
	// CodeWrongRecipient refuses a valid tip whose `to` is not the
	// receiver's own account (the receiver has one): it is not this
	// receiver's to accept, record or forward.
	CodeWrongRecipient = "wrong_recipient"
	// CodeAlreadyAccepted answers a second copy of a queued tip (the
	// outbox and the mailbox both delivered it): it was accepted before, so
	// the receipt says accepted and its sender stops resending it.
	CodeAlreadyAccepted = "already_accepted"
	// CodeNotReceiving refuses a tip sent to a peer that does not take tips
	// (a `vtpeer tip` process: it sends one and has no replay store).
	CodeNotReceiving = "not_receiving"
)

// Verdict is what the desk decided about one incoming tip. The fields
// describe the tip as far as it could be decoded.
type Verdict struct {
	From, To        string // checksummed addresses, "" when undecodable
	Amount          string // wei, decimal
	AmountVery      string // FormatAmount of Amount
	Cid             string
	MessageHash     string // 0x-hex, "" when undecodable
	Accepted        bool   // verified, for this receiver, recorded (and queued for forwarding)
	Code            string // why it was refused (Code*), or CodeAlreadyAccepted
	Reason          string // a human reason beside Code
	TimestampSigned bool   // the nonce signs the timestamp (vtpeer's tips)
	Forwarded       string // ForwardQueued when accepted by a desk that forwards
	// Duplicate reports a second copy of a queued tip accepted before: no
	// news for the user, but its receipt (accepted) must still go back.
	Duplicate bool
}

// DeskOptions configure OpenDesk. A nil *DeskOptions uses the defaults.
type DeskOptions struct {
	// MaxAge refuses live tips signed longer ago (0 = DefaultMaxAge).
	MaxAge time.Duration
	// ForwardURL, if set, is the orchestrator endpoint (…/submit-meta) that
	// accepted tips are forwarded to through the store's forward queue; a
	// forwarder runs until Close. It must be an http(s) URL (ErrForwardURL).
	ForwardURL string
	// Signer, if set, is the receiver's account: tips for another address
	// are refused (CodeWrongRecipient) and receipts are signed.
	Signer Signer
	// OnForward, if set, is told every forward attempt's outcome.
	OnForward func(hash common.Hash, state, lastError string)
	// Registry, if set, receives the desk's metrics (vtpeer_tips_*).
	Registry prometheus.Registerer
	// Logger receives diagnostics (nil = discard).
	Logger *slog.Logger
}

func (o *DeskOptions) validate() error {
	if o.MaxAge < 0 {
		return errors.New("tips: desk options: negative MaxAge")
	}
	return nil
}

// Desk is the receiving end of tips: it judges each incoming tip into one
// Verdict and one Receipt — verify, refuse replays (the Store), record and
// queue the forward in one transaction, sign the receipt. Every outcome,
// good or bad, has a receipt. It is safe for concurrent use.
type Desk struct {
	live, queued Verifier
	store        *Store
	fwd          *Forwarder // nil: not forwarding
	signer       Signer     // nil: receipts go unsigned
	log          *slog.Logger
	metrics      *deskMetrics // nil without a Registry

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// OpenDesk opens the replay store at path (see OpenStore: ErrStoreInUse when
// another process holds it), prunes replay records older than twice the
// oldest acceptable tip and, with a ForwardURL, starts the forwarder (which
// also delivers what an earlier run left queued).
func OpenDesk(path string, opts *DeskOptions) (*Desk, error) {
	var o DeskOptions
	if opts != nil {
		o = *opts
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	store, err := OpenStore(path, &StoreOptions{Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	d := &Desk{live: Verifier{MaxAge: o.MaxAge}, queued: Verifier{MaxAge: max(o.MaxAge, QueuedMaxAge)},
		store: store, signer: o.Signer, log: o.Logger}
	if o.Registry != nil {
		if d.metrics, err = newDeskMetrics(o.Registry); err != nil {
			_ = store.Close()
			return nil, err
		}
	}
	// Keep replay records twice as long as any tip can be accepted.
	if _, err := store.Prune(time.Now().Add(-2 * d.queued.MaxAge)); err != nil {
		d.log.Warn("pruning the replay store failed", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	if o.ForwardURL != "" {
		fo := &ForwarderOptions{Logger: o.Logger, OnAttempt: func(h common.Hash, state, lastErr string) {
			d.metrics.forward(state)
			if o.OnForward != nil {
				o.OnForward(h, state, lastErr)
			}
		}}
		if d.fwd, err = NewForwarder(store, o.ForwardURL, fo); err != nil {
			cancel()
			_ = store.Close()
			return nil, forwardURLError{err}
		}
		d.wg.Go(func() { _ = d.fwd.Run(ctx) })
	}
	return d, nil
}

// Store is the desk's replay store (for inspection; the desk writes it).
func (d *Desk) Store() *Store { return d.store }

// Judge judges one live tip (message kind "tip"): the signed-meta JSON body
// as received. It returns the verdict to show and the receipt to send back.
func (d *Desk) Judge(ctx context.Context, body []byte) (Verdict, Receipt) {
	v, r := d.judge(ctx, body, false)
	d.metrics.count(v)
	return v, r
}

// JudgeQueued judges a tip that waited for us (kind "tip-queued"), against
// QueuedMaxAge. A copy of a queued tip accepted before gets a Verdict with
// Duplicate set and an accepting receipt, and is not counted again.
func (d *Desk) JudgeQueued(ctx context.Context, body []byte) (Verdict, Receipt) {
	v, r := d.judge(ctx, body, true)
	if v.Duplicate {
		return v, r
	}
	d.metrics.count(v)
	return v, r
}

func (d *Desk) judge(ctx context.Context, body []byte, queued bool) (Verdict, Receipt) {
	var v Verdict
	sm, err := ParseSignedMeta(body)
	if err != nil {
		v.Code, v.Reason = CodeOf(err), ReasonOf(err)
		return v, d.receipt(common.Hash{}, v)
	}
	m := sm.Meta
	v.From, v.To, v.Cid = m.From.Hex(), m.To.Hex(), m.Cid
	if m.Amount != nil {
		v.Amount, v.AmountVery = m.Amount.String(), FormatAmount(m.Amount)
	}
	hash := m.MessageHash()
	v.MessageHash = hash.Hex()
	verifier := &d.live
	if queued {
		verifier = &d.queued
	}
	res, err := verifier.Verify(sm)
	if err != nil {
		v.Code, v.Reason = CodeOf(err), ReasonOf(err)
		return v, d.receipt(hash, v)
	}
	v.TimestampSigned = res.TimestampSigned
	if d.signer != nil && m.To != d.signer.Address() {
		v.Code = CodeWrongRecipient
		v.Reason = fmt.Sprintf("this tip is for %s, not for this account %s", m.To.Hex(), d.signer.Address().Hex())
		return v, d.receipt(hash, v)
	}
	switch err := d.accept(ctx, sm, res.Hash); {
	case errors.Is(err, ErrReplay) && queued:
		v.Code, v.Reason, v.Duplicate = CodeAlreadyAccepted, "this queued tip was delivered and accepted before", true
		return v, d.receipt(hash, v)
	case errors.Is(err, ErrReplay):
		v.Code, v.Reason = CodeReplay, "this tip was already accepted"
		return v, d.receipt(hash, v)
	case err != nil:
		d.log.Error("recording a tip failed: refused, nothing recorded", "hash", v.MessageHash, "err", err)
		v.Code, v.Reason = CodeStore, "the receiver could not record the tip; nothing was recorded, send it again later"
		return v, d.receipt(hash, v)
	}
	v.Accepted = true
	if d.fwd != nil {
		v.Forwarded = ForwardQueued
	}
	return v, d.receipt(hash, v)
}

// accept records a verified tip for replay protection and, when the desk
// forwards, queues its forward in the same store transaction: both happen or
// neither does, so a tip is never accepted without its forward nor marked
// seen when it was refused.
func (d *Desk) accept(ctx context.Context, sm *SignedMeta, hash common.Hash) error {
	if d.fwd != nil {
		return d.fwd.Accept(ctx, sm, time.Now())
	}
	return d.store.Record(hash, time.Now())
}

// receipt builds the receipt for v, signed when the desk has an account.
// A second copy of a queued tip is answered as accepted: it was, earlier.
func (d *Desk) receipt(hash common.Hash, v Verdict) Receipt {
	r := Receipt{MessageHash: hash, Accepted: v.Accepted || v.Code == CodeAlreadyAccepted, Code: v.Code, Reason: v.Reason, Forwarded: v.Forwarded}
	if d.signer != nil {
		if err := SignReceipt(d.signer, &r); err != nil {
			d.log.Error("signing a receipt failed", "err", err)
		}
	}
	return r
}

// Close stops the forwarder and closes the store.
func (d *Desk) Close() error {
	d.cancel()
	d.wg.Wait()
	return d.store.Close()
}

// forwardURLError is NewForwarder's error about the URL, matching
// ErrForwardURL.
type forwardURLError struct{ err error }

func (e forwardURLError) Error() string        { return e.err.Error() }
func (e forwardURLError) Unwrap() error        { return e.err }
func (e forwardURLError) Is(target error) bool { return target == ErrForwardURL }

// ReasonOf is the human reason of a tips error: the VerifyError's Reason when
// there is one, else the error text.
func ReasonOf(err error) string {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return err.Error()
}
