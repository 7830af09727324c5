package peer

import (
	"fmt"
	"strings"
	"time"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// Session continuity. The first verified session with a peer id gives both sides a continuity
// secret (seal.Session.ContinuitySecret); every later transport with that peer (ICE restart,
// renegotiation, relay fallback or return) must continue it: its seal handshake mixes the secret
// into its keys, so a party that does not hold it — an impostor the signaling server spliced in —
// cannot complete it. A continued session keeps the SAS the users compared and must prove the
// same account; each one moves the chain on (the two newest secrets are retained, as ZRTP's
// rs1/rs2, so that a transport that died between the two start frames does not break it).
//
// A session that does not continue is refused (continuity_failed) once the chain is confirmed
// (the peer's first frame after its start frame proves it holds the secret), unless signaling
// said the peer left since (a restarted process rejoining under the same id) or the user asked
// for a new session (Retry). Such a new session shows a new SAS: SASChanged is emitted before its
// PeerConnected and before anything is resent.
type contState struct {
	secrets   [][]byte // newest first, at most seal.MaxRetained
	verified  bool     // a session with this peer id was verified
	confirmed bool     // the peer proved it holds the chain (a frame after its start frame)
	sas       string   // the SAS the users compared (the chain's first session)
	address   string   // the account the chain proved, "" if anonymous
}

// handshakeFailureCap is the number of unfinished handshakes with one peer after which the Node
// stops re-handshaking with it until Retry.
const handshakeFailureCap = 5

// sealConfig fills in the continuity fields of cfg for a new handshake with p.
func (p *peerState) sealConfig(cfg seal.Config) seal.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.cont.secrets {
		cfg.Retained = append(cfg.Retained, append([]byte(nil), s...))
	}
	cfg.RequireContinuity = len(cfg.Retained) > 0 && p.cont.confirmed && !p.departed
	return cfg
}

// sessionVerified records a verified session on a link (the peer's start frame opened and its
// identity checked) and returns the SAS to show: the chain's for a continued session, the new
// one otherwise. It refuses a session that proves another account than the chain did.
//
// A new session (not continued) replacing a verified anonymous one inherits nothing: nothing
// proves that the same party is at the other end (a signaling server can forge a peer-left and
// a rejoin), so the earlier session's unacknowledged messages are dropped from the outbox, before
// anything is resent, and their number returned (dropped). A new session proving the account the
// earlier one proved inherits them: the account signature authenticates it.
func (p *peerState) sessionVerified(sess *seal.Session, addr string, dropBelow uint64) (sas string, changed *SASChanged, dropped int, code string, err error) {
	next := sess.ContinuitySecret()
	p.mu.Lock()
	defer p.mu.Unlock()
	c := &p.cont
	if c.verified && c.address != "" && !strings.EqualFold(addr, c.address) {
		got := addr
		if got == "" {
			got = "no account"
		}
		return "", nil, 0, CodeAccountChanged, fmt.Errorf("%w: peer %s proved %s before, now %s", ErrAccountChanged, p.id, c.address, got)
	}
	if sess.Continued() {
		if !c.verified {
			return "", nil, 0, CodeContinuity, fmt.Errorf("%w: %s continues a session we do not hold", ErrContinuity, p.id)
		}
		c.secrets = [][]byte{next, c.secrets[0]}
		p.departed, p.hsFailures = false, 0
		return c.sas, nil, 0, "", nil
	}
	if c.verified && c.sas != sess.SAS() {
		changed = &SASChanged{Peer: p.id, Old: c.sas, New: sess.SAS(), Address: addr}
	}
	if c.inheritsNot(sess) {
		dropped = p.dropOutboxLocked(dropBelow)
	}
	if !c.verified && addr != "" {
		changed = p.n.accountSAS(p.id, addr, sess.SAS())
	}
	*c = contState{secrets: [][]byte{next}, verified: true, sas: sess.SAS(), address: addr}
	p.departed, p.hsFailures = false, 0
	return c.sas, changed, dropped, "", nil
}

// inheritsNot reports whether sess, once verified, is a new session that must not inherit the
// outbox: a verified session with this peer id was anonymous and sess does not continue it.
// (A session after an account's proves that account or is refused, and inherits.)
func (c *contState) inheritsNot(sess *seal.Session) bool {
	return c.verified && c.address == "" && !sess.Continued()
}

// dropOutboxLocked removes the outbox items below seq below — the messages queued before the new
// session's start frame named its base; they will not be resent — releases WaitAcked callers
// and returns how many were dropped. p.mu is held.
func (p *peerState) dropOutboxLocked(below uint64) int {
	i := 0
	for i < len(p.outbox) && p.outbox[i].seq < below {
		p.outBytes -= len(p.outbox[i].frame)
		i++
	}
	if i == 0 {
		return 0
	}
	clear(p.outbox[:i])
	p.outbox = p.outbox[i:]
	close(p.ackCh)
	p.ackCh = make(chan struct{})
	return i
}

// accountSAS remembers the SAS shown for an account's session and reports a change when another
// peer id (a restarted process) proves the same account with a different SAS.
func (n *Node) accountSAS(peer, addr, sas string) *SASChanged {
	n.mu.Lock()
	defer n.mu.Unlock()
	key := strings.ToLower(addr)
	old, seen := n.accountSASes[key]
	n.accountSASes[key] = sas
	if seen && old != sas {
		return &SASChanged{Peer: peer, Old: old, New: sas, Address: addr}
	}
	return nil
}

// confirm records that the peer holds the chain (its first frame after the start frame).
func (p *peerState) confirm() {
	p.mu.Lock()
	if p.cont.verified {
		p.cont.confirmed = true
	}
	p.mu.Unlock()
}

// handshakeFailedLocked counts a handshake that started on l but never verified the peer's
// start frame, and returns the event to emit. p.mu is held.
func (p *peerState) handshakeFailedLocked(err error) HandshakeFailed {
	p.hsFailures++
	reason := "transport replaced"
	if err != nil {
		reason = err.Error()
	}
	if p.hsFailures >= handshakeFailureCap {
		p.capped = true
	}
	return HandshakeFailed{Peer: p.id, Count: p.hsFailures, Reason: reason, Capped: p.capped}
}

// backoff is how long to wait before the next handshake attempt with p after failures.
func (p *peerState) backoff() time.Duration {
	p.mu.Lock()
	f := p.hsFailures
	p.mu.Unlock()
	if f == 0 {
		return 0
	}
	d := p.n.opts.knobs.hsBackoff << (f - 1)
	return min(d, 30*time.Second)
}

// Retry is the user's go-ahead after the Node stopped re-handshaking with peer (HandshakeFailed
// with Capped, or a refused session: continuity_failed, account_changed, possible_mitm ...): the
// failure count is reset and the next session may be a new one (a new SAS, reported with
// SASChanged, which the users must compare again); a session proving another account than the
// peer proved before is still refused. The Node offers a new transport at once.
func (n *Node) Retry(peer string) error {
	n.mu.Lock()
	p := n.peers[peer]
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if p == nil {
		return fmt.Errorf("retry %q: %w", peer, ErrUnknownPeer)
	}
	p.mu.Lock()
	p.hsFailures, p.capped, p.rejected, p.departed = 0, false, false, true
	p.mu.Unlock()
	n.goTracked(func() { n.connect(p) })
	return nil
}
