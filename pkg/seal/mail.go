package seal

import (
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Offline mail: a message sealed with HPKE (RFC 9180, base mode) to a
// peer's static X25519 key, for a peer that is not connected. The server
// stores it under MailboxID(peer's static key) and cannot read it.
//
// Mail blob (all of it is what the server stores):
//
//	offset 0      1                     33                    len
//	       +------+---------------------+---------------------+
//	       | 0x01 | enc (32 bytes)       | AES-256-GCM ct||tag |
//	       +------+---------------------+---------------------+
//
// Suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM (KEM 0x0020,
// KDF 0x0001, AEAD 0x0002), mode_base, one message per context (sequence
// number 0), info = lp("vtpeer/mail/v1") || lp(room), aad = the version
// byte. enc is the sender's fresh ephemeral public key.
//
// HPKE base mode does NOT authenticate the sender: anyone who knows the
// recipient's static public key can seal mail to it. Go's crypto/hpke
// offers neither the Auth nor the PSK mode, so authenticity comes from
// inside: the plaintext is a MailContent whose Signature the receiver must
// check with VerifyMail before trusting From.
const (
	// MailVersion is the first byte of every mail blob.
	MailVersion = 1
	// MailTag is the HPKE info domain tag.
	MailTag = "vtpeer/mail/v1"
	// MailOverhead is the size of a blob minus its plaintext: version
	// byte, encapsulated key and GCM tag.
	MailOverhead = 1 + KeySize + TagSize
	// MaxMailSize bounds a whole mail blob (48 KiB, the mailbox's default
	// per-message limit); SealMail refuses larger plaintexts and OpenMail
	// larger blobs.
	MaxMailSize = 48 << 10
	// MailboxIDLen is the length of a MailboxID in hex digits.
	MailboxIDLen = 32

	mailboxTag = "vtpeer/mailbox/v1"
)

// Mail time window. A receiver refuses mail whose signed SentAt lies more
// than MailMaxSkew in its future or more than MailMaxAge in its past. A
// receiver must remember delivered mail ids for longer than MailMaxAge +
// MailMaxSkew: then a kept blob replayed later is either still in the seen
// set (dropped as a duplicate) or too old (refused), never delivered twice.
const (
	MailMaxAge  = 14 * 24 * time.Hour
	MailMaxSkew = 5 * time.Minute
)

// Errors of CheckSentAt.
var (
	// ErrMailTooOld means a mail's signed SentAt is older than MailMaxAge.
	ErrMailTooOld = errors.New("seal: mail is too old")
	// ErrMailFromFuture means a mail's signed SentAt is more than
	// MailMaxSkew ahead of the receiver's clock.
	ErrMailFromFuture = errors.New("seal: mail is dated in the future")
)

// ErrMailSignature means a MailContent's signature is missing or does not
// recover to its From address.
var ErrMailSignature = errors.New("seal: mail signature does not match sender")

// GenerateStaticKey returns a new static X25519 key for offline mail,
// reading its 32 secret bytes from rand (nil means crypto/rand; pass
// anything else only in tests). Keep it in VTPEER_HOME and announce its
// public key in the signed Identity.
func GenerateStaticKey(r io.Reader) (*ecdh.PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	scalar := make([]byte, 32)
	defer wipe(scalar)
	if _, err := io.ReadFull(r, scalar); err != nil {
		return nil, fmt.Errorf("read static key: %w", err)
	}
	k, err := ecdh.X25519().NewPrivateKey(scalar)
	if err != nil {
		return nil, fmt.Errorf("static key: %w", err)
	}
	return k, nil
}

// MailboxID returns the name under which the server keeps mail for the
// owner of staticPub: hex(SHA-256("vtpeer/mailbox/v1" || staticPub)[:16]),
// 32 lower-case hex digits. It reveals nothing about the key beyond
// linking mail for the same key.
func MailboxID(staticPub []byte) string {
	h := sha256.New()
	h.Write([]byte(mailboxTag))
	h.Write(staticPub)
	return hex.EncodeToString(h.Sum(nil)[:MailboxIDLen/2])
}

// ValidMailboxID reports whether s has the shape of a MailboxID: exactly
// 32 lower-case hex digits.
func ValidMailboxID(s string) bool {
	if len(s) != MailboxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// mailInfo is the HPKE info: lp(MailTag) || lp(room).
func mailInfo(room string) []byte {
	b := make([]byte, 0, 8+len(MailTag)+len(room))
	b = binary.BigEndian.AppendUint32(b, uint32(len(MailTag)))
	b = append(b, MailTag...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(room)))
	return append(b, room...)
}

func validRoom(room string) bool {
	return room != "" && len(room) <= MaxRoomSize && utf8.ValidString(room)
}

var mailSuite = struct {
	kdf  hpke.KDF
	aead hpke.AEAD
}{hpke.HKDFSHA256(), hpke.AES256GCM()}

// SealMail seals plaintext (at most MaxMailSize − MailOverhead bytes) to
// the recipient's static X25519 public key for the given room, with a
// fresh ephemeral key. It fails with ErrBadKey for a key that is not a
// canonical, non-low-order X25519 key and ErrConfig for a bad room.
func SealMail(recipientPub []byte, room string, plaintext []byte) ([]byte, error) {
	if !validRoom(room) {
		return nil, fmt.Errorf("%w: room must be 1..%d bytes of UTF-8", ErrConfig, MaxRoomSize)
	}
	if len(plaintext) > MaxMailSize-MailOverhead {
		return nil, fmt.Errorf("%w: mail plaintext of %d bytes exceeds %d", ErrMalformed, len(plaintext), MaxMailSize-MailOverhead)
	}
	if !canonicalKey(recipientPub) {
		return nil, ErrBadKey
	}
	pub, err := ecdh.X25519().NewPublicKey(recipientPub)
	if err != nil {
		return nil, ErrBadKey
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("seal mail: %w", err)
	}
	enc, s, err := hpke.NewSender(pk, mailSuite.kdf, mailSuite.aead, mailInfo(room))
	if err != nil {
		// The only input-dependent failure is a low-order recipient key
		// (all-zero shared secret).
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	out := make([]byte, 1, MailOverhead+len(plaintext))
	out[0] = MailVersion
	out = append(out, enc...)
	ct, err := s.Seal(out[:1], plaintext)
	if err != nil {
		return nil, fmt.Errorf("seal mail: %w", err)
	}
	return append(out, ct...), nil
}

// OpenMail opens a blob made by SealMail for priv's public key and the
// same room. Every failure except an unknown version byte (ErrVersion) is
// the single ErrAuth: wrong key, wrong room, truncation, any flipped bit.
// A successful open proves only that the blob was sealed to this key for
// this room, not who sealed it: check the content's signature.
func OpenMail(priv *ecdh.PrivateKey, room string, blob []byte) ([]byte, error) {
	if priv == nil || priv.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("%w: mail key must be X25519", ErrConfig)
	}
	if !validRoom(room) {
		return nil, fmt.Errorf("%w: room must be 1..%d bytes of UTF-8", ErrConfig, MaxRoomSize)
	}
	if len(blob) > 0 && blob[0] != MailVersion {
		return nil, ErrVersion
	}
	if len(blob) < MailOverhead || len(blob) > MaxMailSize {
		return nil, ErrAuth
	}
	enc := blob[1 : 1+KeySize]
	if !canonicalKey(enc) {
		return nil, ErrAuth
	}
	k, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("open mail: %w", err)
	}
	r, err := hpke.NewRecipient(enc, k, mailSuite.kdf, mailSuite.aead, mailInfo(room))
	if err != nil {
		return nil, ErrAuth
	}
	pt, err := r.Open(blob[:1], blob[1+KeySize:])
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// MailContent is a suggested plaintext for mail: one application message
// with a sender-chosen unique ID (the receiver's replay and duplicate key)
// and an optional EIP-191 signature by From (see MailSigningText).
//
// Binary layout (big-endian), parsed strictly:
//
//	0x01 | u8 len | ID | u8 len | From | u8 len | Kind | i64 SentAt |
//	u8 len | Signature | u32 len | Body
//
// ID is 1..64 bytes of [A-Za-z0-9_-]; From (a 0x address or a mailbox id)
// and Kind are 1..64 bytes of printable ASCII (0x21..0x7e); SentAt is Unix
// milliseconds, ≥ 0; Signature is empty or 65 bytes; nothing may follow
// Body.
type MailContent struct {
	ID        string
	From      string
	Kind      string
	Body      []byte
	SentAt    int64
	Signature []byte
}

const (
	mailContentVersion = 1
	maxMailToken       = 64
	mailSigSize        = 65
)

func validToken(s string, idOnly bool) bool {
	if s == "" || len(s) > maxMailToken {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if idOnly {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		} else if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func (c MailContent) check() error {
	switch {
	case !validToken(c.ID, true):
		return fmt.Errorf("%w: mail id must be 1..%d bytes of [A-Za-z0-9_-]", ErrMalformed, maxMailToken)
	case !validToken(c.From, false):
		return fmt.Errorf("%w: mail from must be 1..%d bytes of printable ASCII", ErrMalformed, maxMailToken)
	case !validToken(c.Kind, false):
		return fmt.Errorf("%w: mail kind must be 1..%d bytes of printable ASCII", ErrMalformed, maxMailToken)
	case c.SentAt < 0:
		return fmt.Errorf("%w: mail sentAt is negative", ErrMalformed)
	case len(c.Signature) != 0 && len(c.Signature) != mailSigSize:
		return fmt.Errorf("%w: mail signature must be empty or %d bytes", ErrMalformed, mailSigSize)
	case len(c.Body) > MaxMailSize:
		return fmt.Errorf("%w: mail body too large", ErrMalformed)
	}
	return nil
}

// Marshal encodes c in the binary layout above.
func (c MailContent) Marshal() ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+3+len(c.ID)+len(c.From)+len(c.Kind)+8+1+len(c.Signature)+4+len(c.Body))
	b = append(b, mailContentVersion)
	for _, s := range []string{c.ID, c.From, c.Kind} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(c.SentAt))
	b = append(b, byte(len(c.Signature)))
	b = append(b, c.Signature...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Body)))
	return append(b, c.Body...), nil
}

// ParseMailContent decodes b strictly; any deviation from the layout is
// ErrMalformed. The result does not alias b.
func ParseMailContent(b []byte) (MailContent, error) {
	var c MailContent
	bad := fmt.Errorf("%w: mail content layout", ErrMalformed)
	if len(b) == 0 || b[0] != mailContentVersion {
		return c, bad
	}
	p := b[1:]
	next := func(n int) ([]byte, bool) {
		if n > len(p) {
			return nil, false
		}
		v := p[:n]
		p = p[n:]
		return v, true
	}
	var fields [3]string
	for i := range fields {
		n, ok := next(1)
		if !ok {
			return c, bad
		}
		v, ok := next(int(n[0]))
		if !ok {
			return c, bad
		}
		fields[i] = string(v)
	}
	c.ID, c.From, c.Kind = fields[0], fields[1], fields[2]
	t, ok := next(8)
	if !ok {
		return c, bad
	}
	c.SentAt = int64(binary.BigEndian.Uint64(t))
	n, ok := next(1)
	if !ok {
		return c, bad
	}
	sig, ok := next(int(n[0]))
	if !ok {
		return c, bad
	}
	if len(sig) > 0 {
		c.Signature = append([]byte(nil), sig...)
	}
	l, ok := next(4)
	if !ok {
		return c, bad
	}
	if uint64(binary.BigEndian.Uint32(l)) != uint64(len(p)) {
		return c, bad
	}
	c.Body = append([]byte{}, p...)
	return c, c.check()
}

// CheckSentAt checks c.SentAt against the receiver's clock now: it fails
// with ErrMailFromFuture when SentAt is more than MailMaxSkew ahead, and
// with ErrMailTooOld when it is more than MailMaxAge behind. SentAt is only
// worth checking on signed mail (VerifyMail); unsigned, it is the sender's
// claim.
func (c MailContent) CheckSentAt(now time.Time) error {
	sent := time.UnixMilli(c.SentAt)
	switch {
	case sent.After(now.Add(MailMaxSkew)):
		return fmt.Errorf("%w: sent at %s, %s ahead of this clock (limit %s)",
			ErrMailFromFuture, sent.UTC().Format(time.RFC3339), sent.Sub(now).Round(time.Second), MailMaxSkew)
	case now.Sub(sent) > MailMaxAge:
		return fmt.Errorf("%w: sent at %s, %s ago (limit %s)",
			ErrMailTooOld, sent.UTC().Format(time.RFC3339), now.Sub(sent).Round(time.Second), MailMaxAge)
	}
	return nil
}

// MailPrefix is the first line of every mail signing text.
const MailPrefix = "vtpeer mail v1\n"

// MailSigningText returns the text From signs with EIP-191 personal_sign:
//
//	vtpeer mail v1
//	room: "<room as a JSON string, as in IdentityMessage>"
//	to: <hex(recipient's static public key), 64 digits>
//	id: <ID>
//	from: <From>
//	kind: <Kind>
//	sent-at: <SentAt, decimal>
//	body: <hex(SHA-256(Body)), 64 digits>
//
// Every line ends with "\n". Naming the recipient's key and the room stops
// a recipient from re-sealing a signed mail to someone else as if it were
// sent to them. The text is over 32 bytes, so it never collides with a tip
// signature, and its prefix differs from the identity's.
func MailSigningText(room string, recipientPub []byte, c MailContent) string {
	sum := sha256.Sum256(c.Body)
	var b strings.Builder
	b.WriteString(MailPrefix)
	b.WriteString("room: " + quoteRoom(room) + "\n")
	b.WriteString("to: " + hex.EncodeToString(recipientPub) + "\n")
	b.WriteString("id: " + c.ID + "\n")
	b.WriteString("from: " + c.From + "\n")
	b.WriteString("kind: " + c.Kind + "\n")
	b.WriteString("sent-at: " + strconv.FormatInt(c.SentAt, 10) + "\n")
	b.WriteString("body: " + hex.EncodeToString(sum[:]) + "\n")
	return b.String()
}

// SignMail returns c with Signature set: sign over MailSigningText. c.From
// must be the signing account's 0x address.
func SignMail(room string, recipientPub []byte, c MailContent, sign SignFunc) (MailContent, error) {
	c.Signature = nil
	if err := c.check(); err != nil {
		return c, err
	}
	sig, err := sign([]byte(MailSigningText(room, recipientPub, c)))
	if err != nil {
		return c, fmt.Errorf("sign mail: %w", err)
	}
	c.Signature = sig
	return c, c.check()
}

// VerifyMail checks that c carries a signature over MailSigningText by the
// address in c.From (compared ignoring hex case) and returns the recovered
// address. recipientPub is the receiver's own static public key. Without
// this check From is only the sender's claim.
func VerifyMail(room string, recipientPub []byte, c MailContent, recover RecoverFunc) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	if len(c.Signature) == 0 || !isHex0x(c.From, 20) {
		return "", ErrMailSignature
	}
	addr, err := recover([]byte(MailSigningText(room, recipientPub, c)), c.Signature)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMailSignature, err)
	}
	if !strings.EqualFold(addr, c.From) {
		return "", ErrMailSignature
	}
	return addr, nil
}
