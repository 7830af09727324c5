package peer

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// peerState is the sealed, reliable session with one peer id. It outlives links: sequence
// numbers, the outbox of unacknowledged messages and the receive cursor survive a replaced
// transport, which is how messages sent while a link recovers arrive exactly once, in order.
type peerState struct {
	n  *Node
	id string

	sendMu sync.Mutex // serializes Send and the resend on a new link, so frames go out in seq order

	mu         sync.Mutex
	link       *link // the active transport (ready): data and acks go over it
	ice        *link // the current PeerConnection transport, ready or not (may be link)
	srv        *link // the current server-relay transport, ready or not (may be link)
	up         *link // a direct-only attempt beside the active TURN transport (upgrade.go)
	cand       *link // a new transport beside the live active one of its kind (candidate.go)
	closed     bool
	left       bool
	rejected   bool
	recovering bool
	nextSeq    uint64 // last assigned
	outbox     []outMsg
	outBytes   int
	remoteInst uint64
	delivered  uint64 // last seq delivered from remoteInst
	ackSent    uint64 // last cumulative ack sent (standalone or piggybacked)
	maxFrame   int    // largest sealed frame the peer accepted on the last ready link
	forceAck   bool   // send an ack even if nothing new was delivered (new link)
	ackCh      chan struct{}
	ackKick    chan struct{}
	leftKick   chan struct{} // PeerLeft: a recovery in progress stops waiting
	retryKick  chan struct{} // Retry: a recovery in progress stops waiting (see retries)
	retries    uint64        // Retry calls so far: a recovery leaves the next attempt to Retry's
	connected  bool
	conn       PeerConnected
	earlyICE   map[uint64][]webrtc.ICECandidateInit
	readyCh    chan struct{} // closed and replaced when a link becomes ready

	cont       contState // session continuity (continuity.go)
	departed   bool      // signaling said the peer left (or Retry) since the last verified session
	relayCut   bool      // PeerLeft dropped our relay transport, which the peer may still hold (node.go)
	hsFailures int       // handshakes in a row that started and never verified a start frame
	capped     bool      // hsFailures reached the cap: no handshake until Retry

	attemptStart time.Time   // when the current (re)connection began; zero while connected
	handover     bool        // the active relay went away while a ready-to-be ICE link takes over
	fallbackTmr  *time.Timer // ViaAuto: start the server relay if nothing is ready in time
	iceRetryTmr  *time.Timer // ViaAuto: retry ICE while the session runs over the relay
	upgradeTmr   *time.Timer // ViaAuto: try a direct pair while the session runs over TURN
	upgrades     int         // direct upgrade attempts since the last transport settled on TURN
}

type outMsg struct {
	seq   uint64
	frame []byte // encoded data frame (plaintext inside the seal)
}

func newPeerState(n *Node, id string) *peerState {
	return &peerState{n: n, id: id, maxFrame: n.sendLimit(n.opts.MaxMessageSize), ackCh: make(chan struct{}), ackKick: make(chan struct{}, 1),
		leftKick: make(chan struct{}, 1), retryKick: make(chan struct{}, 1), readyCh: make(chan struct{}), earlyICE: map[uint64][]webrtc.ICECandidateInit{}}
}

// wake releases WaitAcked callers. p.mu must not be held.
func (p *peerState) wake() {
	p.mu.Lock()
	close(p.ackCh)
	p.ackCh = make(chan struct{})
	p.mu.Unlock()
}

func (p *peerState) info() PeerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PeerInfo{ID: p.id, Connected: p.connected, SAS: p.conn.SAS, Address: p.conn.Address,
		Path: p.conn.Path, CandidateType: p.conn.CandidateType, Unacked: len(p.outbox)}
}

// baseSeq is the lowest sequence number we will (re)send on a new link whose seal session is
// sess, and the sequence number below which the outbox is dropped once that session is verified
// (0: nothing is dropped). A session that will not inherit the outbox (an anonymous new session,
// see sessionVerified) starts after it.
func (p *peerState) baseSeq(sess *seal.Session) (base, dropBelow uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cont.inheritsNot(sess) {
		return p.nextSeq + 1, p.nextSeq + 1
	}
	if len(p.outbox) > 0 {
		return p.outbox[0].seq, 0
	}
	return p.nextSeq + 1, 0
}

func (p *peerState) send(ctx context.Context, kind string, body []byte) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	p.mu.Lock()
	l := p.link
	ready := l != nil && l.ready
	p.mu.Unlock()
	// Without a live link, the last peer maximum we saw applies (ours until we have seen one).
	p.mu.Lock()
	limit := p.maxFrame
	p.mu.Unlock()
	if ready {
		limit = p.n.sendLimit(l.maxFrame())
	}
	if size := seal.Overhead + dataHeaderLen + len(kind) + len(body); size > limit {
		return fmt.Errorf("%w: %d byte frame, limit %d", ErrMessageTooBig, size, limit)
	}
	if ready {
		// Back pressure before taking a sequence number: a cancelled wait queues nothing.
		if err := l.waitWritable(ctx); err != nil && ctx.Err() != nil {
			return fmt.Errorf("send to %s: %w", p.id, err)
		}
	}
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return ErrClosed
		}
		if p.outBytes+len(body) <= p.n.opts.MaxOutboxBytes || len(p.outbox) == 0 {
			break
		}
		// Too much unacknowledged: on a live link wait for acks; otherwise refuse.
		ch := p.ackCh
		live := p.link != nil && p.link.ready
		p.mu.Unlock()
		if !live {
			return fmt.Errorf("send to %s: %w", p.id, ErrOutboxFull)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("send to %s: %w", p.id, ctx.Err())
		}
		p.mu.Lock()
	}
	p.nextSeq++
	m := outMsg{seq: p.nextSeq, frame: encodeData(p.nextSeq, kind, body)}
	p.outbox = append(p.outbox, m)
	p.outBytes += len(m.frame)
	ready = p.link == l && l != nil && l.ready
	p.mu.Unlock()
	p.n.metrics.messages.WithLabelValues("sent").Inc()
	p.n.metrics.bytes.WithLabelValues("sent").Add(float64(len(body)))
	if ready {
		if err := p.writeData(l, m.frame); err != nil {
			// Kept in the outbox: it is resent on the next link.
			l.close(err)
		}
	}
	return nil
}

// sendLimit is the largest sealed frame Send accepts given a transport's limit: with ViaAuto and
// ViaServer a message must also fit the relay, so that it can travel on whichever path the
// session is on when it is (re)sent.
func (n *Node) sendLimit(transport int) int {
	if n.opts.Via == ViaAuto || n.opts.Via == ViaServer {
		return min(transport, RelayMaxFrame)
	}
	return transport
}

func (p *peerState) waitAcked(ctx context.Context) error {
	for {
		p.mu.Lock()
		empty, closed, ch := len(p.outbox) == 0, p.closed, p.ackCh
		p.mu.Unlock()
		if empty {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait acked %s: %w", p.id, ctx.Err())
		}
	}
}

// onStart records the peer's instance: a new instance starts its stream at base. On a session
// that did not continue the earlier one, the same instance may start above what we delivered: it
// dropped the earlier session's unacknowledged messages (Undelivered, UndeliveredSASChanged), and
// the stream goes on from base. A continued session never skips a number.
func (p *peerState) onStart(instance, base uint64, continued bool) {
	p.mu.Lock()
	switch {
	case instance != p.remoteInst:
		p.remoteInst = instance
		p.delivered = base - 1
	case !continued && base-1 > p.delivered:
		p.delivered = base - 1
	}
	p.forceAck = true
	p.mu.Unlock()
	p.kickAck()
}

func (p *peerState) onData(l *link, f appFrame) error {
	p.mu.Lock()
	switch {
	case f.seq <= p.delivered: // resent after a transport change: already delivered
	case f.seq == p.delivered+1:
		p.delivered++
		p.n.emit(Message{Peer: p.id, Kind: f.kind, Body: f.body}) // f.body aliases a fresh Open buffer
		p.n.metrics.messages.WithLabelValues("received").Inc()
		p.n.metrics.bytes.WithLabelValues("received").Add(float64(len(f.body)))
	default:
		want := p.delivered + 1
		p.mu.Unlock()
		return fmt.Errorf("%w: seq %d, want %d", ErrProtocol, f.seq, want)
	}
	p.mu.Unlock()
	p.kickAck()
	return nil
}

func (p *peerState) onAck(seq uint64) {
	p.mu.Lock()
	i := 0
	for i < len(p.outbox) && p.outbox[i].seq <= seq {
		p.outBytes -= len(p.outbox[i].frame)
		i++
	}
	if i > 0 {
		clear(p.outbox[:i]) // release the frames; append reallocates the array as it goes
		p.outbox = p.outbox[i:]
		close(p.ackCh)
		p.ackCh = make(chan struct{})
	}
	p.mu.Unlock()
}

func (p *peerState) kickAck() {
	select {
	case p.ackKick <- struct{}{}:
	default:
	}
}

// ackDelay is how long a receiver waits for outgoing data to carry its ack before sending a
// standalone ack frame.
const ackDelay = 2 * time.Millisecond

// writeData seals a data frame with the current cumulative ack piggybacked.
func (p *peerState) writeData(l *link, frame []byte) error {
	if l.relay {
		l.track(binary.BigEndian.Uint64(frame[1:]), len(frame)+seal.Overhead)
	}
	return l.writeSealed(frame, func() {
		p.mu.Lock()
		d := p.delivered
		p.ackSent = d
		p.mu.Unlock()
		setDataAck(frame, d)
	})
}

// ackLoop sends a standalone cumulative ack ackDelay after a delivery unless data going back
// carried it meanwhile; bursts coalesce through the 1-slot kick channel.
func (p *peerState) ackLoop(l *link) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-p.ackKick:
		case <-l.deadCh:
			return
		}
		t.Reset(ackDelay)
		select {
		case <-t.C:
		case <-l.deadCh:
			return
		}
		p.mu.Lock()
		d := p.delivered
		need := d > p.ackSent || p.forceAck
		p.ackSent, p.forceAck = d, false
		p.mu.Unlock()
		if !need {
			continue
		}
		if err := l.writeSealed(encodeAck(d), nil); err != nil {
			l.close(err)
			return
		}
	}
}

// onLinkReady runs when both start frames are exchanged on l. l becomes the active transport (a
// relay only while no PeerConnection is active), the outbox is resent on it from the lowest
// unacknowledged message, and only then is a previously active transport closed. The receiver
// never sees a gap: each transport carries a contiguous run of sequence numbers starting at or
// below the next one it expects, and it drops what it already delivered.
func (p *peerState) onLinkReady(l *link, ev PeerConnected) {
	p.sendMu.Lock()
	p.mu.Lock()
	if (p.ice != l && p.srv != l && p.up != l && p.cand != l) || l.isDead() || p.closed {
		p.mu.Unlock()
		p.sendMu.Unlock()
		return
	}
	old := p.link
	var replaced []*link
	if p.up == l { // the direct upgrade takes over from the TURN transport
		replaced = append(replaced, p.ice)
		p.ice, p.up = l, nil
	}
	promoted := p.cand == l
	if promoted { // the candidate proved the session: it takes over from the active transport
		replaced = append(replaced, p.promoteLocked(l)...)
	}
	if l.relay && old != nil && !old.relay {
		// A PeerConnection is active already: the relay is not needed.
		p.mu.Unlock()
		p.sendMu.Unlock()
		l.close(nil)
		return
	}
	// A promoted candidate is announced with PeerConnected, as when the transport it replaces had
	// gone first (the peer renegotiated a transport it lost before we noticed, or a new session
	// after Retry or a restart, which SASChanged announced).
	moved, from := (old != nil || p.handover) && !promoted, p.conn.Path
	pending := append([]outMsg(nil), p.outbox...)
	p.maxFrame = p.n.sendLimit(l.maxFrame())
	l.mu.Lock()
	l.ready, l.everReady = true, true
	if l.upgrade && l.restartTmr != nil { // the upgrade deadline is met
		l.restartTmr.Stop()
		l.restartTmr = nil
	}
	l.mu.Unlock()
	p.link = l
	p.connected, p.conn, p.recovering, p.handover = true, ev, false, false
	p.relayCut = false
	start := p.attemptStart
	p.attemptStart = time.Time{}
	if !l.relay && p.fallbackTmr != nil {
		p.fallbackTmr.Stop()
		p.fallbackTmr = nil
	}
	retryICE := l.relay && l.offerer && p.ice == nil && p.n.opts.Via == ViaAuto
	tryDirect := p.upgradeWantedLocked(l, ev.Path)
	close(p.readyCh)
	p.readyCh = make(chan struct{})
	p.mu.Unlock()
	m := p.n.metrics
	m.connections.WithLabelValues(ev.Path).Inc()
	if moved {
		m.pathChanges.WithLabelValues(from, ev.Path).Inc()
		m.connectTime.WithLabelValues(ev.Path).Observe(time.Since(l.created).Seconds())
		p.n.emit(PathChanged{Peer: p.id, From: from, To: ev.Path, SAS: ev.SAS})
	} else {
		if start.IsZero() {
			start = l.created
		}
		m.connectTime.WithLabelValues(ev.Path).Observe(time.Since(start).Seconds())
		p.n.emit(ev)
	}
	l.releaseData()
	if retryICE {
		p.armICERetry()
	}
	if tryDirect {
		p.armUpgrade()
	}
	p.n.goTracked(func() { p.ackLoop(l) })
	if l.relay {
		p.n.goTracked(l.relayWatch)
	}
	p.resend(l, pending)
	p.sendMu.Unlock()
	if old != nil && old != l {
		old.close(nil)
	}
	for _, r := range replaced {
		if r != nil && r != old && r != l {
			r.close(nil)
		}
	}
}

// resend writes the unacknowledged messages on a new link. p.sendMu is held.
func (p *peerState) resend(l *link, pending []outMsg) {
	for _, m := range pending {
		if len(m.frame)+seal.Overhead > l.maxFrame() {
			// Queued for a previous peer that accepted larger messages: it cannot be delivered
			// in order any more, so give up on the session rather than loop or skip a number.
			l.fail(CodeTransport, fmt.Errorf("resend to %s: %w: %d byte frame, peer limit %d",
				p.id, ErrMessageTooBig, len(m.frame)+seal.Overhead, l.maxFrame()))
			return
		}
		if err := l.waitWritable(p.n.ctx); err != nil {
			return
		}
		if err := p.writeData(l, m.frame); err != nil {
			l.close(err)
			return
		}
	}
}

// onLinkDead runs once per link. A replaced link is ignored; a standby one (ICE trying beside
// the active relay) is retried later; the active one is recovered.
func (p *peerState) onLinkDead(l *link, err error) {
	p.mu.Lock()
	if !p.closed && l.unfinished() {
		ev := p.handshakeFailedLocked(err)
		p.n.emit(ev)
		p.n.log.Info("peer: handshake did not finish", "peer", p.id, "gen", l.gen, "count", ev.Count, "capped", ev.Capped, "err", err)
	}
	if p.up == l { // a direct upgrade that did not make it: the session stays where it is
		p.up = nil
		retry := l.offerer && !p.closed && !p.rejected
		p.mu.Unlock()
		p.n.log.Debug("peer: direct upgrade failed", "peer", p.id, "gen", l.gen, "err", err)
		if retry {
			p.armUpgrade()
		}
		return
	}
	current := false
	if p.cand == l { // a candidate that did not make it
		p.cand = nil
		if p.link != nil { // the active transport goes on: nothing to recover
			p.mu.Unlock()
			p.n.log.Debug("peer: candidate transport dropped; the session goes on over the active one", "peer", p.id, "gen", l.gen, "err", err)
			return
		}
		current = true // the active one died meanwhile: recover as for the current transport
	}
	wasActive := p.link == l
	if wasActive {
		p.link = nil
	}
	if wasActive && p.takeOverLocked(l) {
		p.mu.Unlock()
		p.n.log.Debug("peer: transport lost; the candidate beside it takes over", "peer", p.id, "gen", l.gen, "err", err)
		return
	}
	if p.ice == l {
		p.ice, current = nil, true
	}
	if p.srv == l {
		p.srv, current = nil, true
	}
	if !current { // replaced by a newer transport of the same kind
		if wasActive {
			p.connected = false
		}
		p.mu.Unlock()
		return
	}
	if !wasActive && p.link != nil { // a standby transport beside the active one
		retry := !l.relay && l.offerer && p.n.opts.Via == ViaAuto && !p.closed && !p.rejected
		p.mu.Unlock()
		if retry {
			p.armICERetry()
		}
		return
	}
	was := p.connected && wasActive
	if wasActive && l.relay && p.ice != nil && p.ice.sealed() {
		// The peer moved to the PeerConnection and closed the relay before our side of the
		// PeerConnection is ready: it is about to take over.
		p.handover = true
		p.connected = false
		p.mu.Unlock()
		return
	}
	if wasActive && !l.relay && p.up != nil && p.up.sealed() {
		// The same for a direct upgrade: the peer took it and closed the TURN transport first.
		p.handover = true
		p.connected = false
		p.mu.Unlock()
		return
	}
	p.connected, p.handover = false, false
	stop := p.closed || p.rejected
	nodeClosed := p.closed
	left := p.left
	start := !stop && !left && !p.recovering
	if start {
		p.recovering = true
	}
	p.mu.Unlock()
	if stop {
		if was && !nodeClosed {
			p.emitLeft("closed")
		}
		return
	}
	if left {
		if was {
			p.emitLeft("left")
		}
		return
	}
	p.n.log.Debug("peer: transport lost, renegotiating", "peer", p.id, "relay", l.relay, "err", err)
	if start {
		offerer, relay, gen := l.offerer, l.relay, l.gen
		p.n.goTracked(func() { p.recover(offerer, relay, gen) })
	}
}

// recover replaces a dead transport: the side that offered it offers again; on a PeerConnection
// the other side asks it to with a restart frame (on the relay the close frame did that). It gives
// up after a few attempts. A Retry meanwhile starts its own attempt: the recovery does not offer
// over it (two attempts of ours would replace each other, and each counts as a failed handshake)
// but waits for it, and its count of attempts starts again.
func (p *peerState) recover(offerer, relay bool, deadGen uint64) {
	const attempts = 5
	wait := 2 * p.n.opts.knobs.restartWait
	p.mu.Lock()
	seen := p.retries
	p.mu.Unlock()
	for i := 0; i < attempts; i++ {
		if d := p.backoff(); d > 0 { // failed handshakes with this peer: slow down
			if !p.pause(d, seen, nil) {
				return
			}
		}
		p.mu.Lock()
		ch := p.readyCh
		done := p.closed || p.rejected || p.capped || p.left || (p.link != nil && p.link.ready)
		retried := p.retries != seen
		seen = p.retries
		p.mu.Unlock()
		if done {
			break
		}
		switch {
		case retried: // Retry's attempt is this round's
			i = 0
		case offerer && relay:
			p.n.connectRelay(p)
		case offerer:
			p.n.connect(p)
		case !relay:
			p.n.sig.push(p.id, SignalRestart, sigPayload{Gen: deadGen})
		case i > 0 && p.idleRelay():
			// We answered the relay transport that died and its offerer has not offered another
			// in a whole wait (it may have dropped it for another attempt of its own that then
			// failed, or the offer came from someone else in its name): offer one ourselves
			// rather than wait forever (glare between both resolves as usual).
			p.n.connectRelay(p)
		}
		if !p.pause(wait, seen, ch) {
			return
		}
	}
	p.mu.Lock()
	p.recovering = false
	gaveUp := !p.closed && !p.connected && !p.handover
	reason := "timeout"
	if p.left {
		reason = "left"
	}
	p.mu.Unlock()
	if gaveUp {
		p.emitLeft(reason)
	}
}

// idleRelay reports whether no relay transport with p is live or being negotiated.
func (p *peerState) idleRelay() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return (p.srv == nil || p.srv.isDead()) && (p.cand == nil || p.cand.isDead())
}

// pause waits d for recover, or less: until signaling says the peer left, the user calls Retry
// (a Retry since seen), or ready closes. It returns false if recover should stop: ready closed
// (a transport is ready) or the Node is closing.
func (p *peerState) pause(d time.Duration, seen uint64, ready <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-ready:
			return false
		case <-p.leftKick: // signaling says it left: look again now
			return true
		case <-p.retryKick:
			p.mu.Lock()
			retried := p.retries != seen
			p.mu.Unlock()
			if retried {
				return true
			}
		case <-p.n.ctx.Done():
			return false
		}
	}
}

// emitLeft reports that the peer is gone and, if messages to it are still unacknowledged, how
// many (they stay queued for its return).
func (p *peerState) emitLeft(reason string) {
	p.n.emit(PeerLeft{Peer: p.id, Reason: reason})
	p.mu.Lock()
	n := len(p.outbox)
	p.mu.Unlock()
	if n > 0 {
		p.n.emit(Undelivered{Peer: p.id, Count: n, Reason: UndeliveredLeft})
	}
}

// noteAttemptLocked records when a (re)connection began, for the time-to-connect histogram.
func (p *peerState) noteAttemptLocked() {
	if p.link == nil && p.attemptStart.IsZero() {
		p.attemptStart = time.Now()
	}
}

// armFallback (ViaAuto) starts the server relay if no transport is ready within P2PTimeout.
func (p *peerState) armFallback() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.fallbackTmr != nil {
		return
	}
	p.fallbackTmr = time.AfterFunc(p.n.opts.P2PTimeout, func() {
		p.mu.Lock()
		p.fallbackTmr = nil
		skip := p.closed || p.rejected || p.left || p.link != nil || p.srv != nil
		p.mu.Unlock()
		if skip {
			return
		}
		p.n.log.Debug("peer: no ice pair in time, falling back to the server relay", "peer", p.id)
		p.n.metrics.fallbacks.Inc()
		p.n.goTracked(func() { p.n.connectRelay(p) })
	})
}

// armICERetry (ViaAuto) offers a new PeerConnection later while the session runs over the relay.
func (p *peerState) armICERetry() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.iceRetryTmr != nil {
		return
	}
	p.iceRetryTmr = time.AfterFunc(p.n.opts.knobs.iceRetry, func() {
		p.mu.Lock()
		p.iceRetryTmr = nil
		skip := p.closed || p.rejected || p.left || p.ice != nil || (p.link != nil && !p.link.relay)
		p.mu.Unlock()
		if !skip {
			p.n.goTracked(func() { p.n.connect(p) })
		}
	})
}

func (p *peerState) stopTimersLocked() {
	for _, t := range []*time.Timer{p.fallbackTmr, p.iceRetryTmr, p.upgradeTmr} {
		if t != nil {
			t.Stop()
		}
	}
	p.fallbackTmr, p.iceRetryTmr, p.upgradeTmr = nil, nil, nil
}
