package seal

import "errors"

// Sentinel errors returned by this package. Compare with errors.Is.
//
// Handshake errors say which check failed: none of them reveals secret
// material, and the peer already knows what it sent. Frame errors are
// deliberately opaque: every way a sealed frame can fail to open (bad
// version, replay, reorder, drop, truncation, any flipped bit) is ErrAuth.
var (
	// ErrConfig is returned by NewHandshake for an invalid Config.
	ErrConfig = errors.New("seal: invalid config")

	// ErrMalformed means a handshake or identity message is not valid
	// JSON of the documented, strict shape.
	ErrMalformed = errors.New("seal: malformed message")

	// ErrVersion means the peer speaks a protocol version other than Version.
	ErrVersion = errors.New("seal: unsupported protocol version")

	// ErrRole means the peer claims the same role as ours (two offerers or
	// two answerers, or our own message reflected back).
	ErrRole = errors.New("seal: peer role is not complementary")

	// ErrBadKey means the peer's X25519 public key is invalid, of low
	// order (the shared secret would be all zero), or equal to ours.
	ErrBadKey = errors.New("seal: invalid or low-order public key")

	// ErrFingerprintMismatch means the DTLS certificate fingerprint the
	// peer claims in its hello is not the one of the certificate actually
	// seen on the connection, or that one side offers channel binding and
	// the other does not.
	ErrFingerprintMismatch = errors.New("seal: DTLS fingerprint mismatch")

	// ErrCommitMismatch means the offerer's revealed key does not match
	// the commitment it sent first.
	ErrCommitMismatch = errors.New("seal: revealed key does not match commitment")

	// ErrContinuity means a handshake that had to continue a session (Config.RequireContinuity)
	// does not: the peer holds none of our retained secrets, names one we never offered, or
	// started afresh with a version 1 hello. An impostor spliced in by the signaling server, or a
	// peer that lost its state (a restarted process).
	ErrContinuity = errors.New("seal: handshake does not continue the session")

	// ErrState means a handshake method was called out of order, or after
	// the handshake finished or failed.
	ErrState = errors.New("seal: handshake message out of order")

	// ErrAuth is the one error for a sealed frame that fails to open.
	// After it, the session refuses every further frame in that direction.
	ErrAuth = errors.New("seal: message authentication failed")

	// ErrExhausted means a direction reached its frame or byte limit
	// (MaxFrames, MaxBytes); run a new handshake.
	ErrExhausted = errors.New("seal: message limit reached, new handshake required")

	// ErrClosed is returned by Seal and Open after Close.
	ErrClosed = errors.New("seal: session closed")

	// ErrIdentity means an identity's signature does not recover to its
	// claimed address.
	ErrIdentity = errors.New("seal: identity signature does not match address")
)
