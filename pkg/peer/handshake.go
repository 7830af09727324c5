package peer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// The session over one link, in order on the DataChannel:
//
//  1. seal handshake as text messages (offerer hello+commit, answerer hello, offerer reveal);
//     each side's seal.Config binds the SHA-256 of the DTLS certificate it really sees;
//  2. each side then sends one sealed start frame as its first binary message: its Node instance,
//     the base sequence number it resends from, and its signed seal.Identity (or none);
//  3. PeerConnected is emitted by each side when it has sent its start frame and received and
//     verified the peer's (identity checked, ExpectAddress satisfied). Only then are data and ack
//     frames written on this link; unacknowledged data from an earlier link is resent first.

func (l *link) role() seal.Role {
	if l.offerer {
		return seal.RoleOfferer
	}
	return seal.RoleAnswerer
}

// ensureHandshake creates the seal handshake once the DTLS transport is up and returns the first
// message to send, if any. It runs from OnOpen or the first OnMessage, whichever comes first.
func (l *link) ensureHandshake() (first []byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hs != nil || l.hsErr != nil {
		return nil, l.hsErr
	}
	cfg := l.relayConfig()
	if !l.relay {
		fp, err := l.remoteFingerprint()
		if err != nil {
			l.hsErr = err
			return nil, err
		}
		cfg = seal.Config{Room: l.n.opts.Room, Role: l.role(),
			LocalFingerprint: l.n.stack.fingerprint, RemoteFingerprint: fp}
	}
	hs, err := seal.NewHandshake(l.p.sealConfig(cfg))
	if err != nil {
		l.hsErr = err
		return nil, err
	}
	l.hs = hs
	first, err = hs.Start()
	if err != nil {
		l.hsErr = err
	}
	return first, err
}

func (l *link) onOpen() {
	l.n.log.Debug("peer: datachannel open", "peer", l.p.id, "gen", l.gen)
	first, err := l.ensureHandshake()
	if err != nil {
		l.fail(CodeHandshake, fmt.Errorf("seal handshake: %w", err))
		return
	}
	if first != nil {
		l.markStarted()
		if err := l.writeWire(true, first); err != nil {
			l.close(err)
		}
	}
}

// markStarted records that a seal handshake message went out or came in on l: from now on, a
// link that dies before the peer's start frame is verified counts as a failed handshake.
func (l *link) markStarted() {
	l.mu.Lock()
	l.hsStarted = true
	l.mu.Unlock()
}

// unfinished reports whether a handshake started on l and never verified the peer's start frame
// (an attempt the user's Retry abandoned does not count).
func (l *link) unfinished() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hsStarted && !l.verified && !l.abandoned
}

// abandon marks l, if it is not ready, as an attempt the user gave up on (Retry): its end is no
// failed handshake.
func (l *link) abandon() {
	l.mu.Lock()
	if !l.ready {
		l.abandoned = true
	}
	l.mu.Unlock()
}

// onMessage runs on pion's read loop; it never blocks on the application.
func (l *link) onMessage(msg webrtc.DataChannelMessage) {
	if l.isDead() {
		return
	}
	if msg.IsString {
		l.onHandshakeMessage(msg.Data)
		return
	}
	l.onBinary(msg.Data)
}

// onBinary handles one sealed frame, in order, from the DataChannel or the relay.
func (l *link) onBinary(data []byte) {
	if l.isDead() {
		return
	}
	l.mu.Lock()
	sess, started := l.sess, l.startSeen
	l.mu.Unlock()
	if sess == nil {
		if l.relay { // the reveal was lost on the way
			l.close(fmt.Errorf("%w: relay frame before handshake", ErrProtocol))
			return
		}
		l.fail(CodeProtocol, fmt.Errorf("%w: binary frame before handshake", ErrProtocol))
		return
	}
	pt, err := sess.Open(data)
	if err != nil {
		if !started && sess.Continued() {
			// Both hellos named the same continuity secret, yet the keys differ: the other end
			// does not hold the secret.
			l.fail(CodeContinuity, fmt.Errorf("%w: first frame from %s does not open: %w", ErrContinuity, l.p.id, err))
			return
		}
		if !started && !l.relay {
			// The handshake was bound to the DTLS certificates both sides saw, yet the keys
			// differ: someone terminated DTLS on both sides and swapped the seal keys.
			l.fail(CodePossibleMITM, fmt.Errorf("%w: first frame from %s does not open: %w", ErrPossibleMITM, l.p.id, err))
			return
		}
		if l.relay && started {
			// The session was authenticated (the peer's start frame opened): on the relay a
			// frame lost in a signaling reconnect looks like this. Replace the transport.
			l.n.log.Debug("peer: relay frame lost or damaged", "peer", l.p.id, "gen", l.gen, "err", err)
			l.close(fmt.Errorf("relay frame from %s: %w", l.p.id, err))
			return
		}
		l.fail(CodeSeal, fmt.Errorf("open frame from %s: %w", l.p.id, err))
		return
	}
	f, err := decodeFrame(pt)
	if err != nil {
		l.fail(CodeProtocol, fmt.Errorf("%w: %w", ErrProtocol, err))
		return
	}
	if f.typ == frameStart {
		l.onStart(sess, f)
		return
	}
	if !started {
		l.fail(CodeProtocol, fmt.Errorf("%w: frame before start", ErrProtocol))
		return
	}
	if !l.confirmed {
		// The peer's first frame after its start frame: it processed ours, so it holds the
		// session's continuity secret (onBinary runs on one goroutine per link).
		l.confirmed = true
		l.p.confirm()
	}
	var perr error
	if f.typ == frameData {
		l.onAck(f.ack)
		l.deliverMu.Lock()
		if !l.delivering {
			l.early = append(l.early, f) // f.body is a fresh Open buffer
			l.deliverMu.Unlock()
			return
		}
		perr = l.p.onData(l, f)
		l.deliverMu.Unlock()
	} else {
		l.onAck(f.seq)
	}
	if perr != nil {
		l.fail(CodeProtocol, perr)
	}
}

// releaseData lets data through once the link's PeerConnected or PathChanged event is out:
// frames that arrived earlier are delivered first, in order.
func (l *link) releaseData() {
	l.deliverMu.Lock()
	defer l.deliverMu.Unlock()
	l.delivering = true
	early := l.early
	l.early = nil
	for _, f := range early {
		if err := l.p.onData(l, f); err != nil {
			l.fail(CodeProtocol, err)
			return
		}
	}
}

func (l *link) onHandshakeMessage(b []byte) {
	l.markStarted()
	if a, err := seal.ParseAbort(b); err == nil {
		l.fail(CodeRefused, fmt.Errorf("%w: %s", ErrRefused, a.Code))
		return
	}
	if _, err := l.ensureHandshake(); err != nil {
		l.fail(CodeHandshake, fmt.Errorf("seal handshake: %w", err))
		return
	}
	l.mu.Lock()
	hs := l.hs
	done := l.sess != nil
	l.mu.Unlock()
	if done {
		l.fail(CodeProtocol, fmt.Errorf("%w: text frame after handshake", ErrProtocol))
		return
	}
	reply, sess, err := hs.Handle(b)
	if err != nil {
		code := CodeHandshake
		switch {
		case errors.Is(err, seal.ErrFingerprintMismatch):
			code, err = CodeFingerprintMismatch, fmt.Errorf("%w: %w", ErrFingerprintMismatch, err)
		case errors.Is(err, seal.ErrContinuity):
			code, err = CodeContinuity, fmt.Errorf("%w: %w", ErrContinuity, err)
		}
		if hs.PeerVersion() >= seal.Version {
			l.sendAbort(code) // a version 2 peer learns why instead of waiting for a timeout
		}
		l.fail(code, fmt.Errorf("seal handshake with %s: %w", l.p.id, err))
		return
	}
	if reply != nil {
		if err := l.writeWire(true, reply); err != nil {
			l.close(err)
			return
		}
	}
	if sess == nil {
		return
	}
	start, err := l.startFrame(sess)
	if err != nil {
		l.fail(CodeHandshake, err)
		return
	}
	l.mu.Lock()
	l.sess = sess
	l.mu.Unlock()
	if err := l.writeSealed(start, nil); err != nil {
		l.close(err)
	}
}

// startFrame builds our start frame: instance, base and (if we have an account) our identity.
func (l *link) startFrame(sess *seal.Session) ([]byte, error) {
	var idb []byte
	if id := l.n.opts.Identity; id != nil {
		var static []byte
		if sk, ok := id.(StaticKeyer); ok {
			static = sk.StaticKey()
		}
		sid, err := sess.SignIdentity(id.Address(), static, id.SignHandshake)
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		if idb, err = sid.Marshal(); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
	}
	base, drop := l.p.baseSeq(sess)
	l.mu.Lock()
	l.dropBelow = drop
	l.mu.Unlock()
	return encodeStart(l.n.instance, base, idb), nil
}

// onStart verifies the peer's start frame and makes the link ready.
func (l *link) onStart(sess *seal.Session, f appFrame) {
	l.mu.Lock()
	if l.startSeen {
		l.mu.Unlock()
		l.fail(CodeProtocol, fmt.Errorf("%w: second start frame", ErrProtocol))
		return
	}
	l.startSeen = true
	l.mu.Unlock()
	addr, static := "", []byte(nil)
	if len(f.identity) > 0 {
		id, err := seal.ParseIdentity(f.identity)
		if err != nil {
			l.fail(CodeIdentityInvalid, fmt.Errorf("%w: %w", ErrIdentityInvalid, err))
			return
		}
		if v := l.n.opts.VerifyIdentity; v != nil {
			if addr, err = sess.VerifyIdentity(id, seal.RecoverFunc(v)); err != nil {
				l.fail(CodeIdentityInvalid, fmt.Errorf("%w: %w", ErrIdentityInvalid, err))
				return
			}
			static = id.StaticKey
		}
	}
	if want := l.n.opts.ExpectAddress; want != "" && !strings.EqualFold(addr, want) {
		got := addr
		if got == "" {
			got = "no proven address"
		}
		l.fail(CodeIdentityMismatch, fmt.Errorf("%w: peer %s proved %s, want %s", ErrIdentityMismatch, l.p.id, got, want))
		return
	}
	l.mu.Lock()
	dropBelow := l.dropBelow
	l.mu.Unlock()
	sas, changed, dropped, code, err := l.p.sessionVerified(sess, addr, dropBelow)
	if err != nil {
		l.fail(code, err)
		return
	}
	l.mu.Lock()
	l.verified = true
	l.mu.Unlock()
	if changed != nil {
		l.n.emit(*changed) // before PeerConnected and before anything is resent
	}
	if dropped > 0 {
		l.n.emit(Undelivered{Peer: l.p.id, Count: dropped, Reason: UndeliveredSASChanged, Dropped: true})
	}
	l.n.log.Debug("peer: session ready", "peer", l.p.id, "gen", l.gen, "continued", sess.Continued(), "dropped", dropped)
	l.p.onStart(f.instance, f.base, sess.Continued())
	path, ctype := l.path()
	l.n.goTracked(func() {
		l.p.onLinkReady(l, PeerConnected{Peer: l.p.id, SAS: sas, Address: addr, StaticKey: static, Path: path, CandidateType: ctype})
	})
}

// sendAbort tells the peer why we refuse its handshake (best effort; see seal.Abort). On the
// relay it travels as a "hello" relay frame, like every handshake text message.
func (l *link) sendAbort(code string) {
	b, err := seal.Abort{Code: code}.Marshal()
	if err != nil {
		return
	}
	if err := l.writeWire(true, b); err != nil {
		l.n.log.Debug("peer: send abort", "peer", l.p.id, "err", err)
	}
}

// fail reports err as an Error event, closes the link and gives up on the peer: a handshake,
// seal or protocol failure on a reliable DataChannel means an attacker or a broken peer, not a
// flaky network, so the session is not renegotiated automatically.
//
// While another transport of the session is live (a candidate or a standby transport failed, see
// candidate.go), only this link is closed: the peer is not given up on, and the event says so.
func (l *link) fail(code string, err error) {
	if l.isDead() {
		return
	}
	l.mu.Lock()
	abandoned := l.abandoned
	l.mu.Unlock()
	if abandoned {
		// The user's Retry superseded this attempt (e.g. the peer refused to continue a
		// session the retry starts afresh): its end is no news to report.
		l.n.log.Info("peer: an attempt the retry replaced ended", "peer", l.p.id, "gen", l.gen, "code", code, "err", err)
		l.close(err)
		return
	}
	if l.p.rejectUnlessLive(l) {
		err = fmt.Errorf("%w (%w: gen %d)", err, ErrSessionGoesOn, l.gen)
	}
	l.n.log.Debug("peer: link failed", "peer", l.p.id, "code", code, "err", err)
	l.n.emit(Error{Peer: l.p.id, Code: code, Err: err})
	l.close(err)
}

func (l *link) onAck(seq uint64) {
	if l.relay {
		l.acked(seq)
	}
	l.p.onAck(seq)
}
