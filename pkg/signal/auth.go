package signal

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultAudience is the "aud" a token must carry unless the Verifier is
// told otherwise.
const DefaultAudience = "vtpeer"

// Claims are the JWT claims the server reads. Room, when set, is the only
// room the token lets its bearer join.
type Claims struct {
	Room string `json:"room,omitempty"`
	jwt.RegisteredClaims
}

// DefaultLeeway is the clock skew a Verifier allows by default: a token is
// accepted until exp + leeway, and from nbf − leeway.
const DefaultLeeway = 30 * time.Second

// maxLeeway bounds VerifierOptions.Leeway: more would make exp meaningless.
const maxLeeway = time.Hour

// Verifier checks signaling tokens: one allow-listed algorithm, exp
// required, aud checked.
type Verifier struct {
	key      any
	method   string
	audience string
	leeway   time.Duration
	now      func() time.Time
}

// VerifierOptions tune a Verifier. A nil *VerifierOptions, and every zero
// field, means the documented default.
type VerifierOptions struct {
	// Leeway is the clock skew allowed on exp and nbf (default
	// DefaultLeeway, 30 s; negative: none; at most one hour).
	Leeway time.Duration
	// Now is the clock (default time.Now). Tests inject one.
	Now func() time.Time
}

// WithOptions returns a copy of v tuned by o. It fails with ErrBadOptions
// for a leeway above one hour.
func (v *Verifier) WithOptions(o *VerifierOptions) (*Verifier, error) {
	w := *v
	if o == nil {
		return &w, nil
	}
	switch {
	case o.Leeway > maxLeeway:
		return nil, fmt.Errorf("%w: JWT leeway %v above %v", ErrBadOptions, o.Leeway, maxLeeway)
	case o.Leeway < 0:
		w.leeway = 0
	case o.Leeway > 0:
		w.leeway = o.Leeway
	}
	if o.Now != nil {
		w.now = o.Now
	}
	return &w, nil
}

// Leeway is the clock skew v allows on exp and nbf.
func (v *Verifier) Leeway() time.Duration { return v.leeway }

// NewHS256Verifier returns a Verifier for HS256 tokens signed with secret
// (at least 32 bytes). An empty audience means DefaultAudience.
func NewHS256Verifier(secret []byte, audience string) (*Verifier, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("%w: HS256 secret shorter than 32 bytes", ErrBadOptions)
	}
	return &Verifier{key: append([]byte(nil), secret...), method: "HS256", audience: orDefault(audience),
		leeway: DefaultLeeway, now: time.Now}, nil
}

// NewPublicKeyVerifier returns a Verifier for EdDSA (Ed25519) or ES256
// (P-256) tokens, given the public key as PEM ("PUBLIC KEY", PKIX).
func NewPublicKeyVerifier(pemBytes []byte, audience string) (*Verifier, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block in public key", ErrBadOptions)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: parse public key: %v", ErrBadOptions, err)
	}
	v := &Verifier{key: pub, audience: orDefault(audience), leeway: DefaultLeeway, now: time.Now}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		v.method = "EdDSA"
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA key is not P-256", ErrBadOptions)
		}
		v.method = "ES256"
	default:
		return nil, fmt.Errorf("%w: public key type %T not supported (want Ed25519 or P-256)", ErrBadOptions, pub)
	}
	return v, nil
}

func orDefault(aud string) string {
	if aud == "" {
		return DefaultAudience
	}
	return aud
}

// Verify parses and checks token: signature, algorithm, aud, and exp
// (required) and nbf against the clock with the leeway. exp, nbf and iat,
// when present, must be JSON numbers. Every failure wraps ErrUnauthorized.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: token required", ErrUnauthorized)
	}
	if err := checkNumericDates(token); err != nil {
		return nil, err
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.key, nil },
		append(v.timeOptions(), jwt.WithValidMethods([]string{v.method}))...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	return &c, nil
}

// timeOptions are the claim checks Verify and stillValid share.
func (v *Verifier) timeOptions() []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithAudience(v.audience),
		jwt.WithLeeway(v.leeway),
		jwt.WithTimeFunc(v.now),
	}
}

// stillValid checks claims Verify accepted earlier against the clock now:
// a token given at upgrade authorizes joins only until exp + leeway.
func (v *Verifier) stillValid(c *Claims) error {
	if err := jwt.NewValidator(v.timeOptions()...).Validate(c); err != nil {
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	return nil
}

// dateClaims are the claims that must be JSON numbers (RFC 7519
// NumericDate). golang-jwt also takes a string of digits; we do not.
var dateClaims = []string{"exp", "nbf", "iat"}

// checkNumericDates refuses a token whose exp, nbf or iat is present and
// not a JSON number. Claim names are matched as encoding/json matches
// them, without regard to case. A token it cannot decode passes: the JWT
// parser refuses it with the precise reason.
func checkNumericDates(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return nil
	}
	for k, raw := range claims {
		for _, name := range dateClaims {
			if !strings.EqualFold(k, name) {
				continue
			}
			if raw = bytes.TrimSpace(raw); len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
				return fmt.Errorf("%w: %s is not a number", ErrUnauthorized, name)
			}
		}
	}
	return nil
}

// allowsRoom reports whether claims c let their bearer join room.
func (c *Claims) allowsRoom(room string) bool { return c.Room == "" || c.Room == room }

// MintHS256 returns an HS256 token for audience (empty: DefaultAudience),
// valid from now for ttl, limited to room when room is not empty.
func MintHS256(secret []byte, room, audience, subject string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) < 32 {
		return "", fmt.Errorf("%w: HS256 secret shorter than 32 bytes", ErrBadOptions)
	}
	if ttl <= 0 {
		return "", errors.New("signal: mint token: ttl must be positive")
	}
	c := Claims{Room: room, RegisteredClaims: jwt.RegisteredClaims{
		Audience:  jwt.ClaimStrings{orDefault(audience)},
		Subject:   subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, &c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("signal: mint token: %w", err)
	}
	return s, nil
}
