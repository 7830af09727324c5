package peer

import (
	"fmt"
	"time"
)

// Direct upgrade (ViaAuto). pion nominates the first candidate pair that works, and a pair
// through a TURN relay works at once, while a direct pair between two NATs needs a check from
// each side before either NAT lets the other's packets in. So behind cone NATs the relay often
// wins, and pion never revisits the choice. Holding back the relay (Options.TURNWait) would make
// every relay-only session (symmetric NATs, UDP blocked) wait as long, so instead the session is
// connected at once over TURN and then upgraded: the side that offered the TURN transport offers
// a second, direct-only PeerConnection (no TURN servers, relay candidates dropped, offer flagged
// "upgrade") while the session keeps running over the first. If the direct one becomes ready —
// its seal handshake continues the session (continuity.go) — it takes over like any replacement
// transport (onLinkReady: the outbox is resent on it, nothing is lost, PathChanged turn → direct)
// and the TURN one is closed. If it does not connect within upgradeTimeout it is dropped and the
// session stays on TURN; one more attempt follows after the ICE retry interval (30 s by default).

// upgradeTimeout bounds one direct upgrade attempt, from its offer to its seal handshake.
const upgradeTimeout = 5 * time.Second

// upgradeAttempts is how many direct upgrades are tried each time a transport settles on TURN.
const upgradeAttempts = 2

// upgradeWantedLocked reports whether l, becoming ready on path, should be followed by direct
// upgrade attempts, and resets their count if so. p.mu is held.
func (p *peerState) upgradeWantedLocked(l *link, path string) bool {
	if p.n.opts.Via != ViaAuto || l.relay || l.upgrade || !l.offerer || path != PathTURN {
		return false
	}
	l.mu.Lock()
	direct := l.localDirect
	l.mu.Unlock()
	if !direct { // we have nothing but relay candidates: no direct pair can exist
		return false
	}
	p.upgrades = 0
	return true
}

// armUpgrade schedules the next direct upgrade attempt, if any is left: the first at once, the
// next after the ICE retry interval.
func (p *peerState) armUpgrade() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.upgradeTmr != nil || p.upgrades >= upgradeAttempts {
		return
	}
	d := time.Duration(0)
	if p.upgrades > 0 {
		d = p.n.opts.knobs.iceRetry
	}
	p.upgrades++
	p.upgradeTmr = time.AfterFunc(d, func() {
		p.mu.Lock()
		p.upgradeTmr = nil
		from := p.link
		skip := p.closed || p.rejected || p.capped || p.left || p.up != nil || from == nil || from.relay ||
			from != p.ice || p.conn.Path != PathTURN
		p.mu.Unlock()
		if !skip {
			p.n.goTracked(func() { p.n.offerUpgrade(p, from) })
		}
	})
}

// offerUpgrade offers a direct-only PeerConnection beside from, the active TURN transport.
func (n *Node) offerUpgrade(p *peerState, from *link) {
	l, err := newLink(p, n.nextGen(), true, true)
	if err != nil {
		n.log.Debug("peer: direct upgrade", "peer", p.id, "err", err)
		return
	}
	if !p.installUpgrade(l, from) {
		l.close(nil)
		return
	}
	n.log.Debug("peer: trying a direct path beside turn", "peer", p.id, "gen", l.gen)
	if err := l.offer(false); err != nil {
		l.close(err)
	}
}

// handleUpgradeOffer answers an offer flagged "upgrade": a direct-only PeerConnection beside our
// current one, which stays in use. Without a live current PeerConnection (or not in ViaAuto)
// there is nothing to upgrade and the offer is ignored: the offerer's attempt times out.
func (p *peerState) handleUpgradeOffer(sp sigPayload) error {
	if up := p.upgrading(); up != nil && up.gen == sp.Gen {
		return nil // a repeated offer (upgrade attempts do not restart ICE)
	}
	if p.n.opts.Via != ViaAuto {
		return nil
	}
	cur := p.current()
	if cur == nil || cur.isDead() || sp.Gen <= cur.gen {
		return nil
	}
	l, err := newLink(p, sp.Gen, false, true)
	if err != nil {
		return err
	}
	if !p.installUpgrade(l, cur) {
		l.close(nil)
		return nil
	}
	if err := l.answer(sp.SDP); err != nil {
		l.close(err)
		return fmt.Errorf("upgrade answer to %s: %w", p.id, err)
	}
	return nil
}

// installUpgrade makes l the upgrade attempt beside from (which must still be the current
// PeerConnection), closing an older attempt, applies the candidates that came before it and
// bounds it by upgradeTimeout.
func (p *peerState) installUpgrade(l, from *link) bool {
	p.mu.Lock()
	if p.closed || p.rejected || p.capped || p.ice != from || from.isDead() {
		p.mu.Unlock()
		return false
	}
	old := p.up
	p.up = l
	early := p.earlyICE[l.gen]
	delete(p.earlyICE, l.gen)
	p.mu.Unlock()
	if old != nil {
		old.close(nil)
	}
	l.mu.Lock()
	l.restartTmr = time.AfterFunc(upgradeTimeout, func() {
		l.mu.Lock()
		ready := l.everReady
		l.mu.Unlock()
		if !ready {
			l.close(errUpgradeFailed)
		}
	})
	l.mu.Unlock()
	for _, c := range early {
		_ = l.addCandidate(c)
	}
	return true
}

// upgrading is the peer's direct upgrade attempt, nil if none.
func (p *peerState) upgrading() *link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up
}
