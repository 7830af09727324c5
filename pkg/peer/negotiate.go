package peer

import (
	"fmt"

	"github.com/pion/webrtc/v4"
)

const maxEarlyICE = 64 // candidates buffered for a transport whose offer has not arrived yet

// connect starts a transport we offer: with ViaServer a relay transport, otherwise a new
// PeerConnection (replacing the peer's current one); with ViaAuto the server relay is started
// if no transport is ready within P2PTimeout.
func (n *Node) connect(p *peerState) {
	if n.opts.Via == ViaServer {
		n.connectRelay(p)
		return
	}
	gen := n.nextGen()
	l, err := newLink(p, gen, true, false)
	if err != nil {
		n.emit(Error{Peer: p.id, Code: CodeTransport, Err: err})
		return
	}
	if !p.install(l) {
		l.close(nil)
		return
	}
	if err := l.offer(false); err != nil {
		if l.isDead() {
			// Replaced or torn down between install and offer (glare, the peer's own new
			// offer, a close): whoever closed it owns what comes next, so no error to report.
			n.log.Debug("peer: offer abandoned, its transport closed meanwhile", "peer", p.id, "gen", gen, "err", err)
			return
		}
		n.emit(Error{Peer: p.id, Code: CodeTransport, Err: err})
		l.close(err)
		return
	}
	if n.opts.Via == ViaAuto {
		p.armFallback()
	}
}

// nextGen returns a transport generation: increasing within a process and, being based on the
// clock, larger after a restart than any generation the old process used.
func (n *Node) nextGen() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := newGen()
	if g <= n.lastGen {
		g = n.lastGen + 1
	}
	n.lastGen = g
	return g
}

// install makes l the peer's current PeerConnection, closing the previous one (without recovery),
// or, while the active PeerConnection is live and the chain confirmed, its candidate
// (candidate.go).
func (p *peerState) install(l *link) bool {
	p.mu.Lock()
	if p.closed || p.rejected || p.capped {
		p.mu.Unlock()
		return false
	}
	replaced := p.placeLocked(l)
	early := p.earlyICE[l.gen]
	for g := range p.earlyICE {
		if g <= l.gen {
			delete(p.earlyICE, g)
		}
	}
	p.mu.Unlock()
	for _, o := range replaced {
		if o != nil {
			o.close(nil)
		}
	}
	for _, c := range early {
		_ = l.addCandidate(c)
	}
	return true
}

// current is the peer's current PeerConnection transport (ready or not), nil if none.
func (p *peerState) current() *link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ice
}

// active is the transport data goes over (ready), nil if none.
func (p *peerState) active() *link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.link
}

// handleOffer answers a new transport (higher gen) or an ICE restart of the current one (same gen).
func (p *peerState) handleOffer(sp sigPayload) error {
	if p.n.opts.Via == ViaServer {
		// no WebRTC: the peer falls back to the relay (ViaAuto) or fails
		return fmt.Errorf("%w: offer from %s: --via server takes no WebRTC offer", ErrIgnoredSignal, p.id)
	}
	if up := p.upgrading(); sp.Upgrade || (up != nil && sp.Gen == up.gen) {
		return p.handleUpgradeOffer(sp)
	}
	cur := p.current()
	if c := p.candidate(); c != nil && !c.relay && !c.isDead() {
		if sp.Gen < c.gen {
			return fmt.Errorf("%w: offer from %s: gen %d older than the candidate transport's %d", ErrIgnoredSignal, p.id, sp.Gen, c.gen)
		}
		cur = c // an ICE restart of the candidate, or a newer offer (glare below applies to it)
	}
	if cur != nil && sp.Gen == cur.gen && !cur.isDead() {
		if err := cur.answer(sp.SDP); err != nil {
			return fmt.Errorf("ice restart answer to %s: %w", p.id, err)
		}
		return nil
	}
	if cur != nil && !cur.isDead() {
		if sp.Gen < cur.gen {
			return fmt.Errorf("%w: offer from %s: gen %d older than the current transport's %d", ErrIgnoredSignal, p.id, sp.Gen, cur.gen)
		}
		// Glare: we are offering too and have not connected yet. The lower peer id keeps offering.
		if cur.offerer && !cur.isReady() && p.n.selfIDSafe() < p.id {
			return fmt.Errorf("%w: offer from %s: glare, our lower id keeps offering", ErrIgnoredSignal, p.id)
		}
	}
	p.mu.Lock()
	rejected := p.rejected
	p.mu.Unlock()
	if rejected {
		return fmt.Errorf("%w: offer from %s: its session failed (see the earlier error)", ErrIgnoredSignal, p.id)
	}
	l, err := newLink(p, sp.Gen, false, false)
	if err != nil {
		return err
	}
	if !p.install(l) {
		l.close(nil)
		return nil
	}
	if err := l.answer(sp.SDP); err != nil {
		l.close(err)
		return fmt.Errorf("answer %s: %w", p.id, err)
	}
	return nil
}

func (p *peerState) handleAnswer(sp sigPayload) error {
	cur := p.current()
	if up := p.upgrading(); up != nil && up.gen == sp.Gen {
		cur = up
	}
	if c := p.candidate(); c != nil && !c.relay && c.gen == sp.Gen {
		cur = c
	}
	switch {
	case cur == nil:
		return fmt.Errorf("%w: answer from %s: gen %d, but no transport is being negotiated", ErrIgnoredSignal, p.id, sp.Gen)
	case sp.Gen == cur.gen && !cur.offerer:
		return fmt.Errorf("%w: answer from %s: gen %d is the peer's own offer", ErrBadSignal, p.id, sp.Gen)
	case sp.Gen != cur.gen || cur.isDead():
		return fmt.Errorf("%w: answer from %s: gen %d is not our current offer (%d)", ErrIgnoredSignal, p.id, sp.Gen, cur.gen)
	}
	if err := cur.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sp.SDP}); err != nil {
		return fmt.Errorf("answer from %s: %w", p.id, err)
	}
	return nil
}

func (p *peerState) handleICE(sp sigPayload) error {
	if sp.Candidate == nil {
		return fmt.Errorf("%w: ice without candidate", ErrBadSignal)
	}
	p.mu.Lock()
	cur := p.ice
	switch c := p.cand; {
	case p.up != nil && sp.Gen == p.up.gen:
		cur = p.up
	case c != nil && !c.relay && sp.Gen >= c.gen: // the candidate's, or newer
		cur = c
	}
	if cur == nil || sp.Gen > cur.gen {
		// The offer for this transport has not arrived yet (or its link is not installed).
		if len(p.earlyICE) < maxEarlyICE && len(p.earlyICE[sp.Gen]) < maxEarlyICE {
			p.earlyICE[sp.Gen] = append(p.earlyICE[sp.Gen], *sp.Candidate)
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		return fmt.Errorf("%w: ice from %s: more than %d candidates before their offer", ErrBadSignal, p.id, maxEarlyICE)
	}
	p.mu.Unlock()
	if sp.Gen != cur.gen {
		return fmt.Errorf("%w: ice from %s: gen %d of a replaced transport (current %d)", ErrIgnoredSignal, p.id, sp.Gen, cur.gen)
	}
	if err := cur.addCandidate(*sp.Candidate); err != nil {
		return fmt.Errorf("candidate from %s: %w", p.id, err)
	}
	return nil
}

// handleRestart: the peer lost the transport we offered and asks for a new one.
func (p *peerState) handleRestart(sp sigPayload) error {
	p.mu.Lock()
	cur := p.ice
	skip := p.closed || p.rejected || (cur != nil && cur.gen > sp.Gen) || p.n.opts.Via == ViaServer
	p.mu.Unlock()
	if skip {
		return fmt.Errorf("%w: restart from %s: gen %d is not our current transport, or the session is over, or --via server", ErrIgnoredSignal, p.id, sp.Gen)
	}
	p.n.goTracked(func() { p.n.connect(p) })
	return nil
}
