package seal

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"unicode/utf8"
)

// Config configures one handshake.
type Config struct {
	// Room is the room name, bound into the transcript hash. Required,
	// valid UTF-8, at most MaxRoomSize bytes.
	Room string
	// Role is this side's role: RoleOfferer or RoleAnswerer. Required.
	Role Role
	// LocalFingerprint is SHA-256 of this side's own DTLS certificate
	// (DER), 32 bytes. Required unless NoChannelBinding.
	LocalFingerprint []byte
	// RemoteFingerprint is SHA-256 of the DTLS certificate this side
	// really sees on the connection (DTLSTransport.GetRemoteCertificate),
	// 32 bytes. The peer's claimed fingerprint must equal it. Required
	// unless NoChannelBinding.
	RemoteFingerprint []byte
	// NoChannelBinding must be set, with both fingerprints empty, on a
	// path without DTLS (the server relay). The SAS and the signed
	// identities then carry all of the authentication. Both peers must
	// agree: a hello with a fingerprint is rejected on a handshake without
	// channel binding and vice versa.
	NoChannelBinding bool
	// Retained are the continuity secrets (Session.ContinuitySecret of earlier sessions with
	// the same peer, ContinuitySize bytes each, newest first, at most MaxRetained) this side
	// retains. With any, the offerer sends a version 2 hello naming them and a handshake that
	// continues one mixes it into its keys (Session.Continued). None: a version 1 hello.
	Retained [][]byte
	// RequireContinuity refuses (ErrContinuity) a handshake that continues none of Retained:
	// the peer named none of them, named others, or sent a version 1 hello. It requires
	// Retained.
	RequireContinuity bool
	// Rand supplies the 32 bytes of the ephemeral X25519 private key.
	// Nil means crypto/rand. Set it only in tests and known-answer vectors.
	Rand io.Reader
}

func (c *Config) validate() error {
	switch {
	case !c.Role.Valid():
		return fmt.Errorf("%w: role %v", ErrConfig, c.Role)
	case c.Room == "" || len(c.Room) > MaxRoomSize || !utf8.ValidString(c.Room):
		return fmt.Errorf("%w: room must be 1..%d bytes of UTF-8", ErrConfig, MaxRoomSize)
	case c.NoChannelBinding && (len(c.LocalFingerprint) != 0 || len(c.RemoteFingerprint) != 0):
		return fmt.Errorf("%w: fingerprints given with NoChannelBinding", ErrConfig)
	case !c.NoChannelBinding && (len(c.LocalFingerprint) != FingerprintSize || len(c.RemoteFingerprint) != FingerprintSize):
		return fmt.Errorf("%w: fingerprints must be %d bytes (or set NoChannelBinding)", ErrConfig, FingerprintSize)
	case len(c.Retained) > MaxRetained:
		return fmt.Errorf("%w: at most %d retained secrets", ErrConfig, MaxRetained)
	case c.RequireContinuity && len(c.Retained) == 0:
		return fmt.Errorf("%w: RequireContinuity without retained secrets", ErrConfig)
	}
	for _, r := range c.Retained {
		if len(r) != ContinuitySize {
			return fmt.Errorf("%w: retained secrets must be %d bytes", ErrConfig, ContinuitySize)
		}
	}
	return nil
}

type hsState uint8

const (
	stateNew hsState = iota
	stateWaitHello
	stateWaitReveal
	stateDone
	stateFailed
)

// Handshake runs one side of the seal handshake. It is not safe for
// concurrent use: feed it the peer's handshake messages in the order they
// arrive, from one goroutine.
//
// The flow (offerer O, answerer A), every message a JSON text message:
//
//	O → A  hello  {role: offerer, commit: H(keyO), fp: fpO}
//	A → O  hello  {role: answerer, key: keyA, fp: fpA}   (only after O's hello)
//	O → A  reveal {key: keyO}                            (O now has its Session)
//	                                                     (A checks H(keyO), has its Session)
//
// The offerer commits to its key before it sees the answerer's, and the
// answerer sends its key only after it holds that commitment, so a
// man in the middle cannot search for keys that make two SASes equal.
type Handshake struct {
	cfg   Config
	state hsState
	sk    *ecdh.PrivateKey // ephemeral key; dropped once finished or failed
	pub   []byte
	// answerer only: the offerer's hello, kept until its reveal.
	commit []byte
	peerFP []byte

	version   int      // hello version of this handshake: VersionFirst or Version
	retained  [][]byte // copies of Config.Retained; wiped when finished or failed
	ids       [][]byte // their ContinuityIDs
	contIndex int      // index in retained of the secret continued, -1 for none
	peerV     int      // the version of the peer's hello, once seen (0 before)
}

// NewHandshake validates cfg and draws an ephemeral X25519 key pair.
func NewHandshake(cfg Config) (*Handshake, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	cfg.LocalFingerprint = bytes.Clone(cfg.LocalFingerprint)
	cfg.RemoteFingerprint = bytes.Clone(cfg.RemoteFingerprint)
	cfg.Rand = nil
	h := &Handshake{cfg: cfg, version: VersionFirst, contIndex: -1}
	for _, r := range cfg.Retained {
		h.retained = append(h.retained, bytes.Clone(r))
		h.ids = append(h.ids, ContinuityID(r))
	}
	h.cfg.Retained = nil
	if len(h.retained) > 0 {
		h.version = Version
	}
	scalar := make([]byte, 32)
	defer wipe(scalar)
	if _, err := io.ReadFull(r, scalar); err != nil {
		return nil, fmt.Errorf("read ephemeral key: %w", err)
	}
	var err error
	if h.sk, err = ecdh.X25519().NewPrivateKey(scalar); err != nil {
		return nil, fmt.Errorf("ephemeral key: %w", err)
	}
	h.pub = h.sk.PublicKey().Bytes()
	return h, nil
}

// Role returns this side's role.
func (h *Handshake) Role() Role { return h.cfg.Role }

// PublicKey returns this side's ephemeral X25519 public key.
func (h *Handshake) PublicKey() []byte { return bytes.Clone(h.pub) }

// Start returns the first message this side must send: the offerer's
// hello (with the commitment), or nil for the answerer, which speaks only
// once it has the offerer's hello. Call it exactly once, before Handle.
func (h *Handshake) Start() ([]byte, error) {
	if h.state != stateNew {
		return nil, ErrState
	}
	h.state = stateWaitHello
	if h.cfg.Role == RoleAnswerer {
		return nil, nil
	}
	msg, err := Hello{Version: h.version, Role: RoleOfferer, Commit: Commitment(h.pub),
		Fingerprint: h.cfg.LocalFingerprint, Retained: h.ids}.Marshal()
	if err != nil {
		return nil, h.fail(err)
	}
	return msg, nil
}

// Handle processes one handshake message from the peer. It returns the
// message to send back (nil if none) and, once the handshake is complete,
// the Session. Send reply (if any) before any sealed frame. Any error is
// final: the handshake drops its key and refuses further calls with
// ErrState.
func (h *Handshake) Handle(msg []byte) (reply []byte, s *Session, err error) {
	switch h.state {
	case stateWaitHello:
		hello, err := ParseHello(msg)
		if err != nil {
			return nil, nil, h.fail(err)
		}
		if err := h.checkHello(hello); err != nil {
			return nil, nil, h.fail(err)
		}
		if err := h.checkContinuity(hello); err != nil {
			return nil, nil, h.fail(err)
		}
		if h.cfg.Role == RoleAnswerer {
			h.commit, h.peerFP = hello.Commit, hello.Fingerprint
			var cont []byte
			if h.contIndex >= 0 {
				cont = h.ids[h.contIndex]
			}
			reply, err := Hello{Version: h.version, Role: RoleAnswerer, Key: h.pub,
				Fingerprint: h.cfg.LocalFingerprint, Continue: cont}.Marshal()
			if err != nil {
				return nil, nil, h.fail(err)
			}
			h.state = stateWaitReveal
			return reply, nil, nil
		}
		reply, err := Reveal{Key: h.pub}.Marshal()
		if err != nil {
			return nil, nil, h.fail(err)
		}
		s, err := h.finish(h.pub, h.cfg.LocalFingerprint, hello.Key, hello.Fingerprint)
		if err != nil {
			return nil, nil, h.fail(err)
		}
		return reply, s, nil
	case stateWaitReveal:
		rv, err := ParseReveal(msg)
		if err != nil {
			return nil, nil, h.fail(err)
		}
		if subtle.ConstantTimeCompare(Commitment(rv.Key), h.commit) != 1 {
			return nil, nil, h.fail(ErrCommitMismatch)
		}
		s, err := h.finish(rv.Key, h.peerFP, h.pub, h.cfg.LocalFingerprint)
		if err != nil {
			return nil, nil, h.fail(err)
		}
		return nil, s, nil
	}
	return nil, nil, ErrState
}

// PeerVersion returns the version of the peer's hello once it has been parsed (0 before): a
// caller that aborts a handshake may tell a version 2 peer why (Abort).
func (h *Handshake) PeerVersion() int { return h.peerV }

// checkHello checks the peer hello's version, role and fingerprint. The answerer takes the
// offerer's version (1 or 2); the offerer requires its own back.
func (h *Handshake) checkHello(hello Hello) error {
	h.peerV = hello.Version
	switch {
	case h.cfg.Role == RoleAnswerer && (hello.Version == VersionFirst || hello.Version == Version):
		h.version = hello.Version
	case hello.Version != h.version:
		return fmt.Errorf("%w: peer speaks v%d, we speak v%d", ErrVersion, hello.Version, h.version)
	}
	if hello.Role != h.cfg.Role.Peer() {
		return fmt.Errorf("%w: both sides are %v", ErrRole, h.cfg.Role)
	}
	if h.cfg.NoChannelBinding {
		if len(hello.Fingerprint) != 0 {
			return fmt.Errorf("%w: peer binds a DTLS fingerprint on a path without one", ErrFingerprintMismatch)
		}
		return nil
	}
	if subtle.ConstantTimeCompare(hello.Fingerprint, h.cfg.RemoteFingerprint) != 1 {
		return ErrFingerprintMismatch
	}
	return nil
}

// checkContinuity picks the retained secret the handshake continues (the
// answerer: the first of the offerer's ids it also holds; the offerer: the
// one the answerer names, which must be one of ours) and applies
// RequireContinuity.
func (h *Handshake) checkContinuity(hello Hello) error {
	if h.cfg.Role == RoleAnswerer {
		for _, peerID := range hello.Retained {
			for i, id := range h.ids {
				if subtle.ConstantTimeCompare(peerID, id) == 1 && h.contIndex < 0 {
					h.contIndex = i
				}
			}
			if h.contIndex >= 0 {
				break
			}
		}
	} else if len(hello.Continue) > 0 {
		for i, id := range h.ids {
			if subtle.ConstantTimeCompare(hello.Continue, id) == 1 {
				h.contIndex = i
			}
		}
		if h.contIndex < 0 {
			return fmt.Errorf("%w: the peer continues a secret we never offered", ErrContinuity)
		}
	}
	if h.cfg.RequireContinuity && h.contIndex < 0 {
		if hello.Version == VersionFirst {
			return fmt.Errorf("%w: the peer started afresh (version 1 hello)", ErrContinuity)
		}
		return fmt.Errorf("%w: the peer holds none of our continuity secrets", ErrContinuity)
	}
	return nil
}

// finish computes the shared secret, TH and the session keys, drops the
// private key and zeroes the secret.
func (h *Handshake) finish(offKey, offFP, ansKey, ansFP []byte) (*Session, error) {
	peerKey := ansKey
	if h.cfg.Role == RoleAnswerer {
		peerKey = offKey
	}
	if bytes.Equal(peerKey, h.pub) {
		return nil, fmt.Errorf("%w: peer key equals ours", ErrBadKey)
	}
	if !canonicalKey(peerKey) {
		return nil, fmt.Errorf("%w: non-canonical encoding", ErrBadKey)
	}
	pk, err := ecdh.X25519().NewPublicKey(peerKey)
	if err != nil {
		return nil, ErrBadKey
	}
	sk := h.sk
	h.sk = nil
	shared, err := sk.ECDH(pk) // fails on an all-zero result: low-order key
	if err != nil {
		return nil, ErrBadKey
	}
	defer wipe(shared)
	th := TranscriptHash(h.cfg.Room, offKey, offFP, ansKey, ansFP)
	var cont, contID []byte
	if h.version != VersionFirst {
		if h.contIndex >= 0 {
			cont, contID = h.retained[h.contIndex], h.ids[h.contIndex]
		}
		th = TranscriptHashV2(h.cfg.Room, offKey, offFP, ansKey, ansFP, contID)
	}
	k, err := deriveKeys(h.version, shared, cont, th)
	if err != nil {
		return nil, err
	}
	defer k.wipe()
	s, err := newSession(h.cfg.Role, h.cfg.Room, th, k)
	if err != nil {
		return nil, err
	}
	s.version, s.continued, s.contIndex = h.version, h.contIndex >= 0, h.contIndex
	h.state = stateDone
	h.commit, h.peerFP = nil, nil
	h.dropRetained()
	return s, nil
}

// fail marks the handshake failed, drops the key and returns err.
func (h *Handshake) fail(err error) error {
	h.state = stateFailed
	h.sk = nil
	h.dropRetained()
	return err
}

func (h *Handshake) dropRetained() {
	for _, r := range h.retained {
		wipe(r)
	}
	h.retained = nil
}

// canonicalKey reports whether k is the canonical encoding of an X25519
// u-coordinate: 32 bytes, little-endian, bit 255 clear and u < p = 2^255-19.
// Honest implementations only produce canonical keys; rejecting the others
// removes encodings that alias another key (or a low-order point) once the
// top bit is masked.
func canonicalKey(k []byte) bool {
	if len(k) != KeySize || k[31]&0x80 != 0 {
		return false
	}
	// u >= p iff bytes 1..30 are 0xff, byte 31 is 0x7f and byte 0 >= 0xed.
	if k[31] != 0x7f || k[0] < 0xed {
		return true
	}
	for _, b := range k[1:31] {
		if b != 0xff {
			return true
		}
	}
	return false
}
