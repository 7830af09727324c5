package tips

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// ForwardBody is the JSON the forwarder POSTs to the orchestrator: the
// relayer's submit-meta fields plus the signature and hash. Addresses are
// checksummed, amount and nonce decimal strings, v 27 or 28, r and s and
// cidHash 32-byte hex.
type ForwardBody struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Amount      string `json:"amount"`
	CidHash     string `json:"cidHash"`
	Nonce       string `json:"nonce"`
	V           uint8  `json:"v"`
	R           string `json:"r"`
	S           string `json:"s"`
	Signature   string `json:"signature"`
	MessageHash string `json:"messageHash"`
}

// NewForwardBody builds the body for a verified signed meta.
func NewForwardBody(sm *SignedMeta) (ForwardBody, error) {
	if len(sm.Signature) != 65 {
		return ForwardBody{}, verr(ErrSignatureLength, CodeSignatureLength, "signature is %d bytes, want 65", len(sm.Signature))
	}
	sig := append([]byte(nil), sm.Signature...)
	if sig[64] < 27 {
		sig[64] += 27
	}
	nonce := sm.Meta.Nonce
	if nonce == nil {
		nonce = new(big.Int)
	}
	return ForwardBody{
		From: sm.Meta.From.Hex(), To: sm.Meta.To.Hex(), Amount: amountString(sm.Meta.Amount),
		CidHash: sm.Meta.CidHashValue().Hex(), Nonce: nonce.String(),
		V: sig[64], R: hexutil.Encode(sig[0:32]), S: hexutil.Encode(sig[32:64]),
		Signature: hexutil.Encode(sig), MessageHash: sm.Meta.MessageHash().Hex(),
	}, nil
}

// Forwarder defaults.
const (
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultRequestTimeout = 10 * time.Second
)

// ForwarderOptions configure NewForwarder. A nil *ForwarderOptions uses the
// defaults.
type ForwarderOptions struct {
	// HTTPClient sends the POSTs (nil = a client with no overall timeout;
	// each request is bounded by RequestTimeout).
	HTTPClient *http.Client
	// Logger receives one line per attempt (nil = discard). Bodies are not
	// logged.
	Logger *slog.Logger
	// MinBackoff is the delay before the first retry (0 = DefaultMinBackoff);
	// it doubles per failed attempt up to MaxBackoff (0 = DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds one POST (0 = DefaultRequestTimeout).
	RequestTimeout time.Duration
	// OnAttempt, if set, is called from Run after each attempt's outcome is
	// on disk, with the new state (ForwardQueued when it will be retried)
	// and the error text ("" on success). It must not block for long.
	OnAttempt func(messageHash common.Hash, state, lastError string)
}

func (o *ForwarderOptions) validate() error {
	if o.MinBackoff < 0 || o.MaxBackoff < 0 || o.RequestTimeout < 0 {
		return errors.New("tips: forwarder options: negative duration")
	}
	if o.MaxBackoff != 0 && o.MinBackoff > o.MaxBackoff {
		return errors.New("tips: forwarder options: MinBackoff above MaxBackoff")
	}
	return nil
}

// Forwarder delivers accepted tips to the orchestrator through a persistent
// forward queue in the Store:
//
//   - Enqueue writes the tip to the forward queue (a hash already there, in any
//     state, is ignored), so a tip survives a restart until delivered.
//   - Run POSTs queued tips as ForwardBody JSON. A 2xx marks the hash
//     forwarded: it is never sent again, across restarts. A 4xx other than
//     408 and 429 is a permanent failure: recorded with the status and not
//     retried. Anything else (network error, timeout, 408, 429, 5xx) is
//     retried with exponential backoff, without limit.
//
// Delivery is at least once: if the process dies between the orchestrator's
// 2xx and the store update, the tip is posted again after the restart; the
// orchestrator must treat messageHash as idempotent (TipRouter's nonce makes
// a second submission fail on chain). The same holds for a POST in flight when
// Run's ctx ends: it is abandoned and the tip stays queued.
type Forwarder struct {
	store   *Store
	url     string
	client  *http.Client
	log     *slog.Logger
	minB    time.Duration
	maxB    time.Duration
	reqTO   time.Duration
	onAtt   func(common.Hash, string, string)
	wake    chan struct{}
	running atomic.Bool
}

// NewForwarder returns a forwarder posting to rawURL (http or https).
func NewForwarder(store *Store, rawURL string, opts *ForwarderOptions) (*Forwarder, error) {
	var o ForwarderOptions
	if opts != nil {
		o = *opts
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("tips: new forwarder: nil store")
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tips: new forwarder: %q is not an http(s) URL", rawURL)
	}
	f := &Forwarder{
		store: store, url: rawURL, client: o.HTTPClient, log: o.Logger,
		minB: o.MinBackoff, maxB: o.MaxBackoff, reqTO: o.RequestTimeout, onAtt: o.OnAttempt,
		wake: make(chan struct{}, 1),
	}
	if f.client == nil {
		f.client = &http.Client{}
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.minB == 0 {
		f.minB = DefaultMinBackoff
	}
	if f.maxB == 0 {
		f.maxB = max(DefaultMaxBackoff, f.minB)
	}
	if f.reqTO == 0 {
		f.reqTO = DefaultRequestTimeout
	}
	return f, nil
}

// Enqueue persists sm (which the caller has verified) in the forward queue and wakes
// Run. It returns once the entry is on disk; a hash already in the queue is
// left as it is.
func (f *Forwarder) Enqueue(ctx context.Context, sm *SignedMeta) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	body, err := NewForwardBody(sm)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("tips: enqueue: %w", err)
	}
	added, err := f.store.putForward(sm.Meta.MessageHash(), b, time.Now())
	if errors.Is(err, ErrStoreClosed) {
		return ErrForwarderClosed
	}
	if err != nil {
		return fmt.Errorf("tips: enqueue: %w", err)
	}
	if added {
		f.wakeUp()
	}
	return nil
}

// Accept is Store.Record and Enqueue in one transaction: it records sm's
// messageHash as accepted at the given time and queues sm for forwarding, or
// does neither. A hash recorded before fails with ErrReplay; any other error
// (a full disk, a closed store) means the tip was not recorded, so the same
// tip can be accepted once the store works again. Call it after Verify
// succeeds and before answering the tipper.
func (f *Forwarder) Accept(ctx context.Context, sm *SignedMeta, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	body, err := NewForwardBody(sm)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("tips: accept: %w", err)
	}
	err = f.store.accept(sm.Meta.MessageHash(), at, b)
	if errors.Is(err, ErrReplay) {
		return err
	}
	if err != nil {
		return fmt.Errorf("tips: accept: %w", err)
	}
	f.wakeUp()
	return nil
}

func (f *Forwarder) wakeUp() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Status returns the forward state of hash: ForwardQueued, ForwardDelivered,
// ForwardFailed, or "" when it was never enqueued.
func (f *Forwarder) Status(hash common.Hash) (string, error) {
	st, _, err := f.store.ForwardStatus(hash)
	return st, err
}

// Run delivers queued tips until ctx is done, then returns nil. Only one Run
// may be active per Forwarder. It picks up tips left queued by an earlier
// process.
func (f *Forwarder) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("tips: forwarder already running")
	}
	defer f.running.Store(false)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, err := f.sendDue(ctx)
		if err != nil && ctx.Err() == nil {
			f.log.Warn("forward queue", "err", err)
			next = time.Now().Add(f.minB)
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-f.wake:
		case <-timer.C:
		}
	}
}

// sendDue posts every queued entry that is due and returns when the next one
// falls due (zero when none is queued).
func (f *Forwarder) sendDue(ctx context.Context) (time.Time, error) {
	queued, err := f.store.queuedForwards()
	if err != nil {
		return time.Time{}, err
	}
	hashes := make([]common.Hash, 0, len(queued))
	for h := range queued {
		hashes = append(hashes, h)
	}
	sort.Slice(hashes, func(i, j int) bool { return queued[hashes[i]].NextAt.Before(queued[hashes[j]].NextAt) })
	var next time.Time
	for _, h := range hashes {
		if ctx.Err() != nil {
			return time.Time{}, nil
		}
		e := queued[h]
		if now := time.Now(); e.NextAt.After(now) {
			if next.IsZero() || e.NextAt.Before(next) {
				next = e.NextAt
			}
			continue
		}
		e, ok := f.attempt(ctx, h, e)
		if !ok {
			return time.Time{}, nil // cut short by shutdown: stays queued, not counted
		}
		if err := f.store.setForward(h, e); err != nil {
			return time.Time{}, err
		}
		if f.onAtt != nil {
			f.onAtt(h, e.State, e.LastError)
		}
		if e.State == ForwardQueued && (next.IsZero() || e.NextAt.Before(next)) {
			next = e.NextAt
		}
	}
	return next, nil
}

// attempt posts one entry and returns it updated; ok is false when ctx
// ended before the orchestrator answered.
func (f *Forwarder) attempt(ctx context.Context, h common.Hash, e forwardEntry) (_ forwardEntry, ok bool) {
	e.Attempts++
	status, err := f.post(ctx, e.Body)
	if err != nil && ctx.Err() != nil {
		return e, false
	}
	log := f.log.With("messageHash", h.Hex(), "attempt", e.Attempts)
	switch {
	case err == nil && status >= 200 && status < 300:
		e.State, e.LastError, e.DoneAt = ForwardDelivered, "", time.Now()
		log.Info("tip forwarded", "status", status)
	case err == nil && status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		e.State, e.LastError, e.DoneAt = ForwardFailed, fmt.Sprintf("HTTP %d", status), time.Now()
		log.Warn("tip refused by orchestrator, not retrying", "status", status)
	default:
		if err != nil {
			e.LastError = err.Error()
		} else {
			e.LastError = fmt.Sprintf("HTTP %d", status)
		}
		e.NextAt = time.Now().Add(f.backoff(e.Attempts))
		log.Warn("forward failed, will retry", "err", e.LastError, "retryAt", e.NextAt)
	}
	return e, true
}

func (f *Forwarder) backoff(attempts int) time.Duration {
	d := f.minB
	for i := 1; i < attempts && d < f.maxB; i++ {
		d *= 2
	}
	return min(d, f.maxB)
}

func (f *Forwarder) post(ctx context.Context, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, f.reqTO)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post to orchestrator: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
