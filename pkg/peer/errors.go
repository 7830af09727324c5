package peer

import "errors"

// Sentinel errors returned by the peer package. Compare with errors.Is.
var (
	// ErrClosed is returned by calls on a Node after Close.
	ErrClosed = errors.New("peer: node closed")
	// ErrUnknownPeer is returned when a call names a peer id the Node has never seen.
	ErrUnknownPeer = errors.New("peer: unknown peer")
	// ErrMessageTooBig is returned by Send when the sealed frame would exceed the peer's negotiated
	// SCTP max message size (or Options.MaxMessageSize), or RelayMaxFrame with ViaAuto/ViaServer.
	ErrMessageTooBig = errors.New("peer: message too big")
	// ErrOutboxFull is returned by Send when too many bytes wait unacknowledged for a peer.
	ErrOutboxFull = errors.New("peer: outbox full")
	// ErrFingerprintMismatch means the DTLS certificate fingerprint claimed in the peer's hello is not
	// the one of the certificate the DTLS transport really saw: someone in the signaling path
	// rewrote the SDP or the hello. The connection is closed.
	ErrFingerprintMismatch = errors.New("peer: dtls fingerprint mismatch")
	// ErrIdentityMismatch means the peer did not prove Options.ExpectAddress.
	ErrIdentityMismatch = errors.New("peer: identity mismatch")
	// ErrIdentityInvalid means the peer's signed identity did not verify.
	ErrIdentityInvalid = errors.New("peer: invalid identity")
	// ErrProtocol means the peer sent a frame that breaks the application protocol
	// (bad frame, gap in sequence numbers, data before the start frame).
	ErrProtocol = errors.New("peer: protocol violation")
	// ErrBadFrame is returned by the application frame decoder for malformed input.
	ErrBadFrame = errors.New("peer: malformed frame")
	// ErrBadSignal is returned by HandleSignal for a signaling frame it cannot use.
	ErrBadSignal = errors.New("peer: bad signaling frame")
	// ErrBadRelay is returned by HandleSignal for a malformed relay frame (the server relay path).
	ErrBadRelay = errors.New("peer: malformed relay frame")
	// ErrContinuity means a new transport with a peer did not continue the verified session: the
	// other end does not hold the session's continuity secret (an impostor spliced in by the
	// signaling server, or a peer that lost its state). Nothing is sent to it.
	ErrContinuity = errors.New("peer: session continuity failed")
	// ErrSessionGoesOn is wrapped into the Error of a transport that failed beside the session's
	// live one (a candidate that did not prove continuity): only that transport was dropped, the
	// verified session goes on over the live one and nothing needs Retry.
	ErrSessionGoesOn = errors.New("peer: only this new transport was dropped; the verified session goes on over the current one")
	// ErrAccountChanged means a peer that proved an account proved another one (or none) on a
	// later session.
	ErrAccountChanged = errors.New("peer: peer proved another account")
	// ErrPossibleMITM means the peer's first sealed frame after a DTLS-bound handshake did not
	// open: the two sides derived different keys, so someone terminated DTLS on both sides and
	// swapped the seal keys.
	ErrPossibleMITM = errors.New("peer: possible man in the middle")
	// ErrRefused means the peer refused the handshake and said why (its code follows).
	ErrRefused = errors.New("peer: handshake refused by the peer")
	// ErrNoChannel is returned by OpenChannel when the session with the peer has no ready
	// PeerConnection (it runs over the server relay, or is recovering).
	ErrNoChannel = errors.New("peer: no direct transport for an extra channel")
	// ErrChannelClosed is returned by a Channel's calls once it is closed (by either end or with
	// its transport).
	ErrChannelClosed = errors.New("peer: channel closed")
	// ErrChannelLabel means an extra DataChannel's label does not start with ChannelLabelPrefix or
	// is longer than MaxChannelLabel.
	ErrChannelLabel = errors.New("peer: bad channel label")
	// ErrIgnoredSignal is returned by HandleSignal for a well-formed signaling frame that the
	// protocol says to ignore: an unknown type, a late frame of a replaced transport (older gen),
	// the losing offer of a glare, an offer or relay frame for a path Options.Via refuses, a frame
	// for a peer whose session failed. The error says which; it is not the peer's fault.
	ErrIgnoredSignal = errors.New("peer: signaling frame ignored")
	// ErrEventOverflow is reported (as an Error event) if the internal event queue exceeds its bound
	// because the application stopped reading Events.
	ErrEventOverflow = errors.New("peer: event queue overflow")
)

// Error event codes (Error.Code).
const (
	CodeFingerprintMismatch = "fingerprint_mismatch"
	CodeIdentityMismatch    = "identity_mismatch"
	CodeIdentityInvalid     = "identity_invalid"
	CodeSeal                = "seal"
	CodeHandshake           = "handshake"
	CodeProtocol            = "protocol"
	CodeSignal              = "signal"
	CodeTransport           = "transport"
	CodeOverflow            = "overflow"
	CodeContinuity          = "continuity_failed"
	CodeAccountChanged      = "account_changed"
	CodePossibleMITM        = "possible_mitm"
	CodeRefused             = "refused"
)
