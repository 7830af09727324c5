package signal

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
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

// Verifier checks signaling tokens: one allow-listed algorithm, exp
// required, aud checked.
type Verifier struct {
	key      any
	method   string
	audience string
}

// NewHS256Verifier returns a Verifier for HS256 tokens signed with secret
// (at least 32 bytes). An empty audience means DefaultAudience.
func NewHS256Verifier(secret []byte, audience string) (*Verifier, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("%w: HS256 secret shorter than 32 bytes", ErrBadOptions)
	}
	return &Verifier{key: append([]byte(nil), secret...), method: "HS256", audience: orDefault(audience)}, nil
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
	v := &Verifier{key: pub, audience: orDefault(audience)}
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

// Verify parses and checks token. Every failure wraps ErrUnauthorized.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: token required", ErrUnauthorized)
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.key, nil },
		jwt.WithValidMethods([]string{v.method}),
		jwt.WithExpirationRequired(),
		jwt.WithAudience(v.audience),
		jwt.WithLeeway(30*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	return &c, nil
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
