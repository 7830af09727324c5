package peer

// Make before break. Once the session's chain is confirmed (continuity.go), a new transport that
// would replace the live active one of its kind — a relay hello or an offer with a larger gen
// (a forced re-handshake looks exactly like this), or a relay transport we offer (Retry) — does
// not replace it: it waits in the candidate slot (p.cand)
// while the session goes on over the active transport. It takes over only in onLinkReady, once
// its handshake continued the session and the peer's start frame was verified; the active one is
// then closed after the resend, as for any replacement. A candidate that fails (continuity_failed,
// account_changed, a timeout ...) is closed alone: it counts as a failed handshake (so the cap
// still bounds them), the peer is not rejected and nothing is renegotiated. The direct upgrade
// has its own slot (p.up, upgrade.go) and is not a candidate.
//
// A PeerConnection we offer ourselves (the peer's restart frame, Retry) still replaces ours at
// once: it goes to the same peer, and pion's shared UDP socket (api.go) routes packets by remote
// address, so two PeerConnections between the same two sockets at once disturb each other (pion/ice
// #507); the peer's side of the old one is then closed first, and a candidate there takes over
// when it notices. A forged restart thus costs a renegotiation that continues the session.
//
// If the active transport itself dies (transport loss, or a relay close carrying the session's
// tag) while a candidate of its kind waits, the candidate moves into the slot as the transport
// being negotiated, as it would have been without the slot.

// wantsCandidateLocked reports whether a new transport of this kind (relay or PeerConnection)
// goes into the candidate slot: the chain is confirmed and the active transport (p.link is set
// only once a link is ready) is of that kind and live. p.mu is held.
func (p *peerState) wantsCandidateLocked(relay bool) bool {
	a := p.link
	if a == nil || a.relay != relay || !p.cont.confirmed || a.isDead() {
		return false
	}
	return relay && p.srv == a || !relay && p.ice == a
}

// placeLocked puts the new transport l in its slot (or the candidate slot) and returns the
// transports it replaces, to be closed without recovery by the caller. p.mu is held.
func (p *peerState) placeLocked(l *link) (replaced []*link) {
	if p.cand != nil && p.cand.relay == l.relay { // an older candidate of the same kind
		replaced = append(replaced, p.cand)
		p.cand = nil
	}
	switch {
	case p.wantsCandidateLocked(l.relay) && (l.relay || !l.offerer):
		p.cand = l
	case l.relay:
		replaced = append(replaced, p.srv)
		p.srv = l
	default:
		replaced = append(replaced, p.ice, p.up) // an upgrade of the replaced transport goes with it
		p.ice, p.up = l, nil
	}
	p.noteAttemptLocked()
	return replaced
}

// promoteLocked makes the candidate l the current transport of its kind and returns the ones it
// replaces (the active one, and an upgrade attempt beside it). p.mu is held.
func (p *peerState) promoteLocked(l *link) (replaced []*link) {
	p.cand = nil
	if l.relay {
		replaced = append(replaced, p.srv)
		p.srv = l
		return replaced
	}
	replaced = append(replaced, p.ice, p.up)
	p.ice, p.up = l, nil
	return replaced
}

// takeOverLocked runs when the active transport l died: a candidate of its kind becomes the
// transport being negotiated in its place (no recovery is started for l; if the candidate fails
// too, its own end starts one). It reports whether there was one. p.mu is held.
func (p *peerState) takeOverLocked(l *link) bool {
	c := p.cand
	if c == nil || c.relay != l.relay || (l.relay && p.srv != l) || (!l.relay && (p.ice != l || p.up != nil)) {
		return false // (a direct upgrade beside a dead PeerConnection has its own handover)
	}
	p.cand = nil
	if l.relay {
		p.srv = c
	} else {
		p.ice = c
	}
	p.connected = false
	p.noteAttemptLocked()
	return true
}

// candidate is the peer's candidate transport, nil if none.
func (p *peerState) candidate() *link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cand
}

// rejectUnlessLive gives up on the peer after l failed (link.fail), unless another transport of
// the session is live: then only l is dropped. It reports whether the session goes on.
func (p *peerState) rejectUnlessLive(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.link
	if a != nil && a != l && !a.isDead() {
		return true
	}
	p.rejected = true
	return false
}
