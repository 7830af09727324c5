package peer

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// The server relay path: no WebRTC. The same seal handshake (without channel binding: there is
// no DTLS certificate to bind, so the SAS and the signed identities carry the authentication)
// and the same sealed application frames travel through the signaling server as signaling
// frames of type "relay", directed with `to`. The server relays `data` byte for byte; it must be
// JSON, so each frame is
//
//	{"gen":N,"t":"hello"|"sealed"|"close","b":"<base64url, no padding>"}
//
// gen names the relay transport (a new one gets a larger gen, like a PeerConnection); "hello"
// carries a seal handshake text message (hello, reveal or abort), "sealed" one sealed frame,
// "close" tells the peer that the sender dropped this transport. A close is acted on only when
// its b is the session's close tag (seal.Session.CloseTag(gen), 32 bytes): a close without one,
// which anyone on the path could forge, is ignored and logged (the transport then ends by its
// own deadlines). For a version 1 session (the peer may be an older vtpeer, which knows only the
// bare close) a bare close is sent after the tagged one. The WebSocket keeps frames in
// order; a frame lost on the way (signaling reconnect) makes the next sealed frame fail to open,
// and the transport is then replaced by a new one (new handshake) while the reliable layer
// resends what was not acknowledged: exactly once, in order.
const (
	// SignalRelay is the signaling frame type of the server relay path.
	SignalRelay = "relay"

	// RelayMaxFrame is the largest sealed frame sent over the server relay: base64 and the
	// signaling envelope must fit the server's 64 KiB frame limit.
	RelayMaxFrame = 40 << 10

	relayHello  = "hello"
	relaySealed = "sealed"
	relayClose  = "close"

	closeTagSize = 32 // seal.Session.CloseTag

	// relayWindow bounds the sealed bytes sent over a relay transport and not yet acknowledged,
	// so that a sender cannot flood the signaling server.
	relayWindow = 256 << 10
)

var (
	errRelayClosed  = errors.New("relay transport closed by the peer")
	errRelayTimeout = errors.New("relay transport not ready in time")
	errRelayStall   = errors.New("relay transport stalled: no acknowledgement in time")
)

// relayData is the `data` of a relay signaling frame.
type relayData struct {
	Gen uint64 `json:"gen"`
	T   string `json:"t"`
	B   string `json:"b,omitempty"`

	body []byte // decoded B
}

var relayB64 = base64.RawURLEncoding

func encodeRelayData(gen uint64, t string, b []byte) (json.RawMessage, error) {
	d := relayData{Gen: gen, T: t}
	if b != nil {
		d.B = relayB64.EncodeToString(b)
	}
	return json.Marshal(d)
}

// decodeRelayData parses and checks the data of a relay frame.
func decodeRelayData(data []byte) (relayData, error) {
	var w struct {
		Gen genField `json:"gen"` // a number, or a decimal string
		T   string   `json:"t"`
		B   string   `json:"b"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return relayData{}, fmt.Errorf("%w: %v", ErrBadRelay, err)
	}
	d := relayData{Gen: uint64(w.Gen), T: w.T, B: w.B}
	if dec.More() {
		return relayData{}, fmt.Errorf("%w: trailing data", ErrBadRelay)
	}
	if d.Gen == 0 {
		return relayData{}, fmt.Errorf("%w: zero gen", ErrBadRelay)
	}
	limit := 0
	switch d.T {
	case relayHello:
		limit = 4096 // seal's max handshake message
	case relaySealed:
		limit = RelayMaxFrame
	case relayClose:
		if d.B == "" {
			return d, nil
		}
		limit = closeTagSize
	default:
		return relayData{}, fmt.Errorf("%w: type %q", ErrBadRelay, d.T)
	}
	if relayB64.DecodedLen(len(d.B)) > limit {
		return relayData{}, fmt.Errorf("%w: %s longer than %d bytes", ErrBadRelay, d.T, limit)
	}
	b, err := relayB64.DecodeString(d.B)
	if err != nil || len(b) == 0 {
		return relayData{}, fmt.Errorf("%w: bad base64 body", ErrBadRelay)
	}
	if d.T == relayClose && len(b) != closeTagSize {
		return relayData{}, fmt.Errorf("%w: close tag of %d bytes", ErrBadRelay, len(b))
	}
	d.body = b
	return d, nil
}

// newRelayLink creates a server-relay transport; the offerer sends its seal hello at once.
func newRelayLink(p *peerState, gen uint64, offerer bool) *link {
	l := &link{n: p.n, p: p, gen: gen, offerer: offerer, relay: true, created: time.Now(),
		lowCh: make(chan struct{}, 1), deadCh: make(chan struct{})}
	p.n.metrics.attempts.WithLabelValues("server").Inc()
	return l
}

// armRelayDeadline closes l if it is not ready in time (a lost handshake frame); the side that
// offered it then tries again.
func (l *link) armRelayDeadline() {
	t := time.AfterFunc(l.n.opts.knobs.relayReady, func() {
		if !l.isReady() {
			l.close(errRelayTimeout)
		}
	})
	l.mu.Lock()
	l.restartTmr = t
	l.mu.Unlock()
}

// connectRelay replaces the peer's relay transport with a new one that we offer.
func (n *Node) connectRelay(p *peerState) {
	if n.selfIDSafe() > p.id && p.answeringRelay() {
		// The peer's offer is being answered and, coming from the lower id, wins any glare:
		// an offer of ours now (both users' Retry at about the same time) would only replace
		// the transport the peer is about to call ready, and leave the two ends on different
		// ones.
		n.log.Debug("peer: not offering a relay transport: the peer's offer is being answered", "peer", p.id)
		return
	}
	l := newRelayLink(p, n.nextGen(), true)
	if !p.installRelay(l) {
		l.close(nil)
		return
	}
	l.armRelayDeadline()
	l.onOpen()
}

// answeringRelay reports whether a relay transport the peer offered is being negotiated: ours to
// answer, neither ready nor dead yet.
func (p *peerState) answeringRelay() bool {
	p.mu.Lock()
	ls := [2]*link{p.srv, p.cand}
	p.mu.Unlock()
	for _, l := range ls { // not under p.mu: isReady takes l.mu
		if l != nil && l.relay && !l.offerer && !l.isDead() && !l.isReady() {
			return true
		}
	}
	return false
}

// reofferRelayLocked reports whether to offer a new relay transport to p now that it is back in
// the room: PeerLeft dropped ours (relayCut) and nothing has taken its place (no live transport,
// no relay transport being negotiated). It clears relayCut either way. p.mu is held.
func (p *peerState) reofferRelayLocked() bool {
	cut := p.relayCut
	p.relayCut = false
	if !cut || p.closed || p.rejected || p.capped {
		return false
	}
	live := func(l *link) bool { return l != nil && !l.isDead() }
	return !live(p.link) && !live(p.srv) && !(p.cand != nil && p.cand.relay && live(p.cand))
}

// installRelay makes l the peer's current relay transport, closing the previous one, or, while
// the active relay transport is live and the chain confirmed, its candidate (candidate.go).
func (p *peerState) installRelay(l *link) bool {
	p.mu.Lock()
	if p.closed || p.rejected || p.capped {
		p.mu.Unlock()
		return false
	}
	replaced := p.placeLocked(l)
	p.mu.Unlock()
	for _, o := range replaced {
		if o != nil {
			o.close(nil)
		}
	}
	return true
}

// handleRelay dispatches one relay frame from the peer.
func (p *peerState) handleRelay(d relayData) error {
	p.mu.Lock()
	cur, stop := p.srv, p.closed || p.rejected
	if c := p.cand; c != nil && c.relay {
		if d.Gen < c.gen && (cur == nil || d.Gen != cur.gen) {
			p.mu.Unlock()
			return fmt.Errorf("%w: relay %s from %s: gen %d older than the candidate transport's %d", ErrIgnoredSignal, d.T, p.id, d.Gen, c.gen)
		}
		if d.Gen >= c.gen {
			cur = c // the candidate's own frames, or a newer hello (glare below applies to it)
		}
	}
	p.mu.Unlock()
	if stop {
		return fmt.Errorf("%w: relay from %s: the session is over", ErrIgnoredSignal, p.id)
	}
	if cur != nil && d.Gen == cur.gen {
		switch d.T {
		case relayHello:
			cur.onHandshakeMessage(d.body)
		case relaySealed:
			cur.onBinary(d.body)
		default:
			cur.onRelayClose(d.body)
		}
		return nil
	}
	// Glare: both offered a relay transport and neither is ready; the lower id keeps offering,
	// whichever gen is larger (a Retry on both sides offers at about the same time).
	glareLoser := cur != nil && cur.offerer && !cur.isReady() && p.n.selfIDSafe() > p.id
	if d.T != relayHello || (cur != nil && d.Gen < cur.gen && !glareLoser) {
		// stale, or the rest of a transport whose hello we never saw
		return fmt.Errorf("%w: relay %s from %s: gen %d is not the current relay transport", ErrIgnoredSignal, d.T, p.id, d.Gen)
	}
	if v := p.n.opts.Via; v == ViaDirect || v == ViaTURN {
		return fmt.Errorf("%w: relay hello from %s: --via %s refuses the server relay", ErrIgnoredSignal, p.id, v)
	}
	if !isOfferHello(d.body) {
		// An answerer hello, a reveal or an abort of a transport we do not hold (say, the late
		// answer to an attempt we abandoned, or to one the server started in our name): it is
		// no offer, and taking it for one would fail the handshake and give up on the peer.
		return fmt.Errorf("%w: relay hello from %s: gen %d is not the current relay transport and its message is not an offerer hello", ErrIgnoredSignal, p.id, d.Gen)
	}
	if cur != nil && cur.offerer && !cur.isReady() && p.n.selfIDSafe() < p.id {
		// glare: both offered a relay transport; the lower id keeps offering
		return fmt.Errorf("%w: relay hello from %s: glare, our lower id keeps offering", ErrIgnoredSignal, p.id)
	}
	p.mu.Lock()
	capped := p.capped
	p.mu.Unlock()
	if capped {
		return fmt.Errorf("%w: relay hello from %s: handshakes with it stopped after %d failures, until Retry", ErrIgnoredSignal, p.id, handshakeFailureCap)
	}
	l := newRelayLink(p, d.Gen, false)
	if !p.installRelay(l) {
		l.close(nil)
		return nil
	}
	l.armRelayDeadline()
	l.onHandshakeMessage(d.body)
	return nil
}

// isOfferHello reports whether b is an offerer's hello, the only handshake message that can start
// a relay transport. A malformed one counts as an offer: its handshake fails and is reported.
func isOfferHello(b []byte) bool {
	if _, err := seal.ParseAbort(b); err == nil {
		return false
	}
	if _, err := seal.ParseReveal(b); err == nil {
		return false
	}
	h, err := seal.ParseHello(b)
	return err != nil || h.Role == seal.RoleOfferer
}

// writeRelay queues one relay frame; a frame the Signaler fails to send kills the transport
// (the peer would see a gap).
func (l *link) writeRelay(t string, b []byte) error {
	data, err := encodeRelayData(l.gen, t, b)
	if err != nil {
		return err
	}
	l.n.sig.pushRaw(l.p.id, SignalRelay, data, func(err error) {
		l.close(fmt.Errorf("relay send: %w", err))
	})
	return nil
}

// onRelayClose acts on the peer's close of this transport only if it carries the session's close
// tag; anything else is logged and ignored.
func (l *link) onRelayClose(tag []byte) {
	l.mu.Lock()
	sess := l.sess
	l.mu.Unlock()
	if len(tag) == 0 || sess == nil || !sess.VerifyCloseTag(l.gen, tag) {
		l.n.log.Info("peer: unauthenticated relay close ignored", "peer", l.p.id, "gen", l.gen, "tagged", len(tag) > 0)
		return
	}
	l.mu.Lock()
	l.peerClosed = true
	l.mu.Unlock()
	l.close(errRelayClosed)
}

// sendRelayClose tells the peer we dropped this relay transport (best effort): with the session's
// close tag, and bare as well when the peer may be a version 1 vtpeer (no session yet, or a
// version 1 one).
func (l *link) sendRelayClose() {
	l.mu.Lock()
	skip, sess := l.peerClosed, l.sess
	l.mu.Unlock()
	if skip {
		return
	}
	if sess != nil {
		if data, err := encodeRelayData(l.gen, relayClose, sess.CloseTag(l.gen)); err == nil {
			l.n.sig.pushRaw(l.p.id, SignalRelay, data, nil)
		}
	}
	if sess == nil || sess.Version() == seal.VersionFirst {
		if data, err := encodeRelayData(l.gen, relayClose, nil); err == nil {
			l.n.sig.pushRaw(l.p.id, SignalRelay, data, nil)
		}
	}
}

// track records a data frame of size bytes (sealed) sent on a relay transport.
func (l *link) track(seq uint64, size int) {
	l.mu.Lock()
	if len(l.inflight) == 0 {
		l.progress = time.Now()
	}
	l.inflight = append(l.inflight, inflightMsg{seq, size})
	l.inflightBytes += size
	l.mu.Unlock()
}

// acked releases the in-flight window up to the cumulative ack seq.
func (l *link) acked(seq uint64) {
	l.mu.Lock()
	i := 0
	for i < len(l.inflight) && l.inflight[i].seq <= seq {
		l.inflightBytes -= l.inflight[i].size
		i++
	}
	l.inflight = l.inflight[i:]
	if i > 0 {
		l.progress = time.Now()
	}
	low := i > 0 && l.inflightBytes <= relayWindow
	l.mu.Unlock()
	if low {
		select {
		case l.lowCh <- struct{}{}:
		default:
		}
	}
}

type inflightMsg struct {
	seq  uint64
	size int
}

// waitRelayWindow blocks while more than relayWindow sealed bytes are unacknowledged.
func (l *link) waitRelayWindow(ctx context.Context) error {
	for {
		l.mu.Lock()
		b := l.inflightBytes
		l.mu.Unlock()
		if b <= relayWindow {
			return nil
		}
		select {
		case <-l.lowCh:
		case <-l.deadCh:
			return errDCClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// relayConfig is the seal configuration on the relay path: no channel binding.
func (l *link) relayConfig() seal.Config {
	return seal.Config{Room: l.n.opts.Room, Role: l.role(), NoChannelBinding: true}
}

// relayWatch closes a ready relay transport whose oldest unacknowledged frame waited longer than
// the stall bound (10 s): a frame lost at the end of a burst leaves no later frame to fail to open.
func (l *link) relayWatch() {
	relayStall := l.n.opts.knobs.relayStall
	t := time.NewTicker(relayStall / 4)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.deadCh:
			return
		}
		l.mu.Lock()
		stalled := len(l.inflight) > 0 && time.Since(l.progress) > relayStall
		l.mu.Unlock()
		if stalled {
			l.close(errRelayStall)
			return
		}
	}
}
