package seal

import (
	"encoding/hex"
	"fmt"

	"strings"
)

// IdentityPrefix is the first line of every identity message.
const IdentityPrefix = "vtpeer handshake v1\n"

// IdentityMessage returns the human-readable text an account signs with
// EIP-191 personal_sign to prove it owns one side of a session:
//
//	vtpeer handshake v1
//	room: "<room as a JSON string, see quoteRoom>"
//	role: offerer|answerer
//	transcript: <hex(TH), 64 lower-case digits>
//	static-key: <hex, 64 digits>          (only when staticKey is set)
//
// Every line ends with "\n". The signer's role is included so that a
// signature cannot be reflected back to its signer as the peer's. The
// text is always longer than 32 bytes and starts with a fixed prefix, so
// it can never be the bare 32-byte hash a tip signature covers.
func IdentityMessage(room string, signer Role, th, staticKey []byte) string {
	var b strings.Builder
	b.WriteString(IdentityPrefix)
	b.WriteString("room: " + quoteRoom(room) + "\n")
	b.WriteString("role: " + signer.String() + "\n")
	b.WriteString("transcript: " + hex.EncodeToString(th) + "\n")
	if len(staticKey) > 0 {
		b.WriteString("static-key: " + hex.EncodeToString(staticKey) + "\n")
	}
	return b.String()
}

// Identity is the message that proves an account: an Ethereum address and
// its EIP-191 signature over IdentityMessage. Send it sealed, as the first
// application frame.
//
//	{"type":"identity","address":"0x…","signature":"0x…","staticKey":"…"}
type Identity struct {
	// Address is the 0x-prefixed, 20-byte hex account address.
	Address string `json:"address"`
	// Signature is the 0x-prefixed 65-byte hex signature (r || s || v).
	Signature string `json:"signature"`
	// StaticKey is an optional 32-byte X25519 static key for offline mail
	// (base64url in JSON); it is covered by the signature.
	StaticKey []byte `json:"staticKey,omitempty"`
}

// Marshal encodes id as the JSON identity message.
func (id Identity) Marshal() ([]byte, error) {
	if err := id.check(); err != nil {
		return nil, err
	}
	f := []any{"type", "identity", "address", id.Address, "signature", id.Signature}
	if len(id.StaticKey) > 0 {
		f = append(f, "staticKey", encodeB64(id.StaticKey))
	}
	return marshalFlat(f...)
}

func (id Identity) check() error {
	if !isHex0x(id.Address, 20) {
		return fmt.Errorf("%w: address must be 0x and 40 hex digits", ErrMalformed)
	}
	if !isHex0x(id.Signature, 65) {
		return fmt.Errorf("%w: signature must be 0x and 130 hex digits", ErrMalformed)
	}
	if len(id.StaticKey) != 0 && len(id.StaticKey) != KeySize {
		return fmt.Errorf("%w: static key must be %d bytes", ErrMalformed, KeySize)
	}
	return nil
}

func isHex0x(s string, n int) bool {
	if len(s) != 2+2*n || (s[:2] != "0x") {
		return false
	}
	_, err := hex.DecodeString(s[2:])
	return err == nil
}

// ParseIdentity decodes an identity message strictly (see ParseHello):
// "type" is "identity", address and signature are 0x-prefixed hex of 20
// and 65 bytes, staticKey, when present, is 32 bytes of base64url. It
// checks the format only; VerifyIdentity checks the signature.
func ParseIdentity(b []byte) (Identity, error) {
	var id Identity
	o, err := parseFlat(b, "type", "address", "signature", "staticKey")
	if err != nil {
		return id, err
	}
	if t, _, err := o.str("type", true); err != nil {
		return id, err
	} else if t != "identity" {
		return id, fmt.Errorf("%w: type %q is not identity", ErrMalformed, t)
	}
	if id.Address, _, err = o.str("address", true); err != nil {
		return id, err
	}
	if id.Signature, _, err = o.str("signature", true); err != nil {
		return id, err
	}
	if id.StaticKey, err = o.bytesField("staticKey", KeySize, false); err != nil {
		return id, err
	}
	return id, id.check()
}

// SignFunc signs message with EIP-191 personal_sign and returns the
// 65-byte signature. The caller supplies it (pkg/tips wraps go-ethereum).
type SignFunc func(message []byte) (signature []byte, err error)

// RecoverFunc recovers the 0x address that signed message with EIP-191
// personal_sign.
type RecoverFunc func(message, signature []byte) (address string, err error)

// SignIdentity builds this side's Identity for address, signing
// IdentityMessage(room, role, TH, staticKey) with sign.
func (s *Session) SignIdentity(address string, staticKey []byte, sign SignFunc) (Identity, error) {
	msg := IdentityMessage(s.room, s.role, s.th, staticKey)
	sig, err := sign([]byte(msg))
	if err != nil {
		return Identity{}, fmt.Errorf("sign identity: %w", err)
	}
	id := Identity{Address: address, Signature: "0x" + hex.EncodeToString(sig), StaticKey: staticKey}
	if err := id.check(); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// VerifyIdentity checks that the peer's identity signs this session's
// transcript in the peer's role, and returns the proven address (as
// recovered). The address comparison ignores hex case.
func (s *Session) VerifyIdentity(id Identity, recover RecoverFunc) (string, error) {
	if err := id.check(); err != nil {
		return "", err
	}
	sig, _ := hex.DecodeString(id.Signature[2:])
	msg := IdentityMessage(s.room, s.role.Peer(), s.th, id.StaticKey)
	addr, err := recover([]byte(msg), sig)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	if !strings.EqualFold(addr, id.Address) {
		return "", ErrIdentity
	}
	return addr, nil
}

// quoteRoom writes room as a JSON string the way ECMAScript's
// JSON.stringify does: '"' and '\\' are backslash-escaped, U+0008, U+0009,
// U+000A, U+000C and U+000D become \b \t \n \f \r, other code points below
// U+0020 become \u00xx (lower-case hex), everything else is raw UTF-8.
// Invalid UTF-8 bytes become U+FFFD (Config rejects such rooms).
func quoteRoom(room string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range room {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r) // utf8.RuneError for invalid bytes
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
