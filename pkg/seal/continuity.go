package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// Continuity (seal v2). Every session derives a continuity secret from its key schedule. Both
// peers retain it; a later handshake between the same two peers (a new transport for the same
// session: ICE restart, renegotiation, relay fallback or return) names the secrets it retains by
// their ids in its hello and mixes the one both sides hold into its key derivation. A party that
// does not hold it (an impostor the signaling server spliced in) cannot derive the keys: its
// start frame fails to open. Each continued session derives the next secret (a chain, as ZRTP's
// retained secrets rs1/rs2). Layouts in docs/PROTOCOL.md ("Continuity").
const (
	// VersionFirst is the hello version of a handshake without retained secrets: the v1 hello,
	// byte for byte, so that older peers still connect for a first session.
	VersionFirst = 1

	// ContinuitySize is the size of a continuity secret.
	ContinuitySize = 32
	// ContinuityIDSize is the size of a continuity secret's public id (rs1, rs2, rs in hellos).
	ContinuityIDSize = 16
	// MaxRetained is the number of continuity secrets a handshake may offer (rs1, rs2).
	MaxRetained = 2

	domainTag2           = "vtpeer/seal/v2"
	info2OffererAnswerer = domainTag2 + " key offerer->answerer"
	info2AnswererOfferer = domainTag2 + " key answerer->offerer"
	info2SAS             = domainTag2 + " sas"
	infoContinuity       = domainTag2 + " continuity"
	infoContinuityID     = domainTag2 + " continuity id"
	infoClose            = domainTag2 + " close"
)

// ContinuityID returns the public id of a continuity secret:
// HKDF-Expand(SHA-256, prk = secret, info = "vtpeer/seal/v2 continuity id", 16 bytes), i.e. the
// first 16 bytes of HMAC-SHA256(secret, info || 0x01). It reveals nothing about the secret.
func ContinuityID(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(infoContinuityID))
	m.Write([]byte{1})
	return m.Sum(nil)[:ContinuityIDSize]
}

// TranscriptHashV2 returns the v2 transcript hash: SHA-256 over seven length-prefixed fields,
// "vtpeer/seal/v2", room, offerer key, offerer fingerprint, answerer key, answerer fingerprint,
// and the id of the continuity secret the handshake continues (empty when none).
func TranscriptHashV2(room string, offererKey, offererFP, answererKey, answererFP, continuityID []byte) []byte {
	h := sha256.New()
	writeField(h, []byte(domainTag2))
	writeField(h, []byte(room))
	writeField(h, offererKey)
	writeField(h, offererFP)
	writeField(h, answererKey)
	writeField(h, answererFP)
	writeField(h, continuityID)
	return h.Sum(nil)
}

// closeTag is HMAC-SHA256(closeKey, u8(sender role) || u64be(gen)).
func closeTag(key []byte, sender Role, gen uint64) []byte {
	var msg [9]byte
	msg[0] = byte(sender)
	binary.BigEndian.PutUint64(msg[1:], gen)
	m := hmac.New(sha256.New, key)
	m.Write(msg[:])
	return m.Sum(nil)
}

// CloseTag authenticates "this side closes transport gen" to the peer (the server relay's close
// frame): HMAC-SHA256(close key, u8(our role) || u64be(gen)), 32 bytes. The close key is
// HKDF-Expand(PRK, "vtpeer/seal/v2 close", 32) of this session.
func (s *Session) CloseTag(gen uint64) []byte { return closeTag(s.closeKey, s.role, gen) }

// VerifyCloseTag reports, in constant time, whether tag is the peer's CloseTag for gen.
func (s *Session) VerifyCloseTag(gen uint64, tag []byte) bool {
	return hmac.Equal(closeTag(s.closeKey, s.role.Peer(), gen), tag)
}

// Version returns the hello version the session was negotiated with (VersionFirst or Version).
func (s *Session) Version() int { return s.version }

// Continued reports whether the session continues a retained secret (both sides proved it).
func (s *Session) Continued() bool { return s.continued }

// ContinuityIndex returns the index in Config.Retained of the secret the session continues, or
// -1 if it continues none.
func (s *Session) ContinuityIndex() int { return s.contIndex }

// ContinuitySecret returns a copy of this session's continuity secret (32 bytes): retain it and
// pass it in Config.Retained of the next handshake with the same peer. The caller must not log it.
func (s *Session) ContinuitySecret() []byte { return append([]byte(nil), s.next...) }
