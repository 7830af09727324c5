package seal

import (
	"fmt"
	"strconv"
)

// Sizes of the fixed-length fields.
const (
	KeySize         = 32 // X25519 public key
	CommitSize      = 32 // SHA-256 commitment to the offerer's key
	FingerprintSize = 32 // SHA-256 of a DTLS certificate (DER)
	HashSize        = 32 // transcript hash
)

// Hello is the first handshake message of each side, a JSON text message
// sent in the clear on the DataChannel (or relay) once it opens. The
// offerer's hello carries Commit (and no Key); the answerer's carries Key
// (and no Commit). Binary fields are unpadded base64url in JSON.
//
//	{"type":"hello","v":1,"role":"offerer","commit":"…","fp":"…"}
//	{"type":"hello","v":1,"role":"answerer","key":"…","fp":"…"}
//
// A version 2 hello (a handshake that may continue a session) adds the ids of the continuity
// secrets the sender retains (offerer: "rs1", optionally "rs2") or the one the answerer chose
// ("rs", absent when it holds none of them):
//
//	{"type":"hello","v":2,"role":"offerer","commit":"…","fp":"…","rs1":"…","rs2":"…"}
//	{"type":"hello","v":2,"role":"answerer","key":"…","fp":"…","rs":"…"}
type Hello struct {
	// Version is the sender's protocol version ("v"); this package speaks Version.
	Version int
	// Role is the sender's role ("role").
	Role Role
	// Key is the answerer's 32-byte X25519 public key ("key"); empty in the offerer's hello.
	Key []byte
	// Commit is the offerer's SHA-256 commitment to its X25519 key
	// ("commit"), see Commitment; empty in the answerer's hello.
	Commit []byte
	// Fingerprint is SHA-256 of the sender's own DTLS certificate (DER)
	// ("fp"); absent on the relay path (no channel binding).
	Fingerprint []byte
	// Retained lists the ids (ContinuityID) of the continuity secrets the offerer retains,
	// newest first ("rs1", "rs2"): one or two in a version 2 offerer hello, none otherwise.
	Retained [][]byte
	// Continue is the id of the retained secret the answerer continues ("rs"): version 2
	// answerer hellos only, and absent when the answerer holds none of the offered ones.
	Continue []byte
}

// Marshal encodes h as the JSON hello message. It does not check that h
// is well formed beyond what ParseHello would reject.
func (h Hello) Marshal() ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	f := []any{"type", "hello", "v", h.Version, "role", h.Role.String()}
	if len(h.Commit) > 0 {
		f = append(f, "commit", encodeB64(h.Commit))
	}
	if len(h.Key) > 0 {
		f = append(f, "key", encodeB64(h.Key))
	}
	if len(h.Fingerprint) > 0 {
		f = append(f, "fp", encodeB64(h.Fingerprint))
	}
	for i, id := range h.Retained {
		f = append(f, fmt.Sprintf("rs%d", i+1), encodeB64(id))
	}
	if len(h.Continue) > 0 {
		f = append(f, "rs", encodeB64(h.Continue))
	}
	return marshalFlat(f...)
}

func (h Hello) check() error {
	switch {
	case h.Version < 1 || h.Version > 255:
		return fmt.Errorf("%w: version %d out of range", ErrMalformed, h.Version)
	case !h.Role.Valid():
		return fmt.Errorf("%w: invalid role", ErrMalformed)
	case h.Role == RoleOfferer && (len(h.Commit) != CommitSize || len(h.Key) != 0):
		return fmt.Errorf("%w: offerer hello needs commit and no key", ErrMalformed)
	case h.Role == RoleAnswerer && (len(h.Key) != KeySize || len(h.Commit) != 0):
		return fmt.Errorf("%w: answerer hello needs key and no commit", ErrMalformed)
	case len(h.Fingerprint) != 0 && len(h.Fingerprint) != FingerprintSize:
		return fmt.Errorf("%w: fingerprint must be %d bytes", ErrMalformed, FingerprintSize)
	case h.Version == VersionFirst && (len(h.Retained) != 0 || len(h.Continue) != 0):
		return fmt.Errorf("%w: a version 1 hello has no continuity ids", ErrMalformed)
	case h.Role == RoleOfferer && h.Version >= 2 && (len(h.Retained) == 0 || len(h.Retained) > MaxRetained):
		return fmt.Errorf("%w: a version 2 offerer hello needs rs1 (and at most rs2)", ErrMalformed)
	case h.Role == RoleOfferer && len(h.Continue) != 0, h.Role == RoleAnswerer && len(h.Retained) != 0:
		return fmt.Errorf("%w: rs1/rs2 belong to the offerer, rs to the answerer", ErrMalformed)
	case len(h.Continue) != 0 && len(h.Continue) != ContinuityIDSize:
		return fmt.Errorf("%w: continuity id must be %d bytes", ErrMalformed, ContinuityIDSize)
	}
	for _, id := range h.Retained {
		if len(id) != ContinuityIDSize {
			return fmt.Errorf("%w: continuity id must be %d bytes", ErrMalformed, ContinuityIDSize)
		}
	}
	return nil
}

// ParseHello decodes a hello message strictly: one JSON object, no
// unknown or duplicate fields, "type" is "hello", "v" an integer in
// 1..255 written without sign, fraction or exponent, "role" "offerer" or
// "answerer", canonical base64url of the exact sizes, an offerer hello
// with "commit" and no "key", an answerer hello with "key" and no
// "commit"; "rs1", "rs2" and "rs" only in version 2 and later hellos (rs1
// and rs2 from the offerer, which must send rs1, rs from the answerer), 16
// bytes each. It does not check the version against Version: the handshake
// does, so that the caller can report ErrVersion.
func ParseHello(b []byte) (Hello, error) {
	var h Hello
	o, err := parseFlat(b, "type", "v", "role", "key", "commit", "fp", "rs1", "rs2", "rs")
	if err != nil {
		return h, err
	}
	if t, _, err := o.str("type", true); err != nil {
		return h, err
	} else if t != "hello" {
		return h, fmt.Errorf("%w: type %q is not hello", ErrMalformed, t)
	}
	n, ok := o.nums["v"]
	if !ok {
		return h, fmt.Errorf("%w: missing field \"v\"", ErrMalformed)
	}
	v, err := strconv.ParseUint(n.String(), 10, 8)
	if err != nil || v == 0 || strconv.FormatUint(v, 10) != n.String() {
		return h, fmt.Errorf("%w: bad version %q", ErrMalformed, n.String())
	}
	h.Version = int(v)
	rs, _, err := o.str("role", true)
	if err != nil {
		return h, err
	}
	if h.Role, ok = parseRole(rs); !ok {
		return h, fmt.Errorf("%w: bad role %q", ErrMalformed, rs)
	}
	if h.Key, err = o.bytesField("key", KeySize, false); err != nil {
		return h, err
	}
	if h.Commit, err = o.bytesField("commit", CommitSize, false); err != nil {
		return h, err
	}
	if h.Fingerprint, err = o.bytesField("fp", FingerprintSize, false); err != nil {
		return h, err
	}
	rs1, err := o.bytesField("rs1", ContinuityIDSize, false)
	if err != nil {
		return h, err
	}
	rs2, err := o.bytesField("rs2", ContinuityIDSize, false)
	if err != nil {
		return h, err
	}
	switch {
	case rs1 == nil && rs2 != nil:
		return h, fmt.Errorf("%w: rs2 without rs1", ErrMalformed)
	case rs2 != nil:
		h.Retained = [][]byte{rs1, rs2}
	case rs1 != nil:
		h.Retained = [][]byte{rs1}
	}
	if h.Continue, err = o.bytesField("rs", ContinuityIDSize, false); err != nil {
		return h, err
	}
	return h, h.check()
}

// Reveal is the offerer's second handshake message: its X25519 public
// key, which must match the commitment in its hello.
//
//	{"type":"reveal","key":"…"}
type Reveal struct {
	// Key is the offerer's 32-byte X25519 public key ("key").
	Key []byte
}

// Marshal encodes r as the JSON reveal message.
func (r Reveal) Marshal() ([]byte, error) {
	if len(r.Key) != KeySize {
		return nil, fmt.Errorf("%w: key must be %d bytes", ErrMalformed, KeySize)
	}
	return marshalFlat("type", "reveal", "key", encodeB64(r.Key))
}

// ParseReveal decodes a reveal message with the same strictness as ParseHello.
func ParseReveal(b []byte) (Reveal, error) {
	var r Reveal
	o, err := parseFlat(b, "type", "key")
	if err != nil {
		return r, err
	}
	if t, _, err := o.str("type", true); err != nil {
		return r, err
	} else if t != "reveal" {
		return r, fmt.Errorf("%w: type %q is not reveal", ErrMalformed, t)
	}
	r.Key, err = o.bytesField("key", KeySize, true)
	return r, err
}
