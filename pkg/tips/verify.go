package tips

import (
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Defaults of a Verifier's zero fields.
const (
	DefaultMaxAge    = 10 * time.Minute
	DefaultMaxFuture = 2 * time.Minute
)

// Verifier checks signed metas. The zero value is ready to use with the
// defaults; it holds no state and is safe for concurrent use.
type Verifier struct {
	// MaxAge rejects tips whose signed timestamp is older than this
	// (0 = DefaultMaxAge).
	MaxAge time.Duration
	// MaxFuture rejects tips whose signed timestamp is further than this
	// ahead of Now (0 = DefaultMaxFuture).
	MaxFuture time.Duration
	// Now is the clock (nil = time.Now).
	Now func() time.Time
}

// Result describes a verified tip.
type Result struct {
	// Signer is the recovered signer; it equals Meta.From.
	Signer common.Address
	// Hash is the recomputed messageHash: the replay key.
	Hash common.Hash
	// TimestampSigned is true when the nonce embeds the signing time
	// (vtpeer's form, see NewNonce) and it passed the freshness check.
	// Tips from other clients are judged on the rest and report false;
	// their freshness is not known.
	TimestampSigned bool
	// Timestamp is the signed unix-ms time, 0 when TimestampSigned is false.
	Timestamp int64
}

// Verify checks s: valid, distinct, non-zero addresses; amount a uint256
// greater than zero; nonce a uint256; a non-empty cid hashing to an explicit
// cidHash; a received messageHash equal to the recomputed one (never
// trusted); a 65-byte, low-s signature with V 27/28 or 0/1 recovering
// meta.from; and, for nonces in vtpeer's form, meta.timestamp equal to the
// signed one and within [now-MaxAge, now+MaxFuture]. A failure is a
// *VerifyError. Replays are not checked here: see Store.
func (v *Verifier) Verify(s *SignedMeta) (Result, error) {
	if s == nil {
		return Result{}, verr(ErrMalformed, CodeMalformed, "no signed meta")
	}
	if err := checkMeta(&s.Meta); err != nil {
		return Result{}, err
	}
	hash := s.Meta.MessageHash()
	if s.MessageHash != nil && *s.MessageHash != hash {
		return Result{}, verr(ErrMessageHashMismatch, CodeMessageHashMismatch,
			"messageHash %s does not match the meta (recomputed %s)", s.MessageHash.Hex(), hash.Hex())
	}
	signer, err := RecoverPersonal(hash[:], s.Signature)
	if err != nil {
		return Result{}, err
	}
	if signer != s.Meta.From {
		return Result{}, verr(ErrSignerMismatch, CodeSignerMismatch,
			"signer %s is not meta.from %s", signer.Hex(), s.Meta.From.Hex())
	}
	res := Result{Signer: signer, Hash: hash}
	ts, ok := NonceTimestamp(s.Meta.Nonce)
	if !ok {
		return res, nil
	}
	if s.Meta.Timestamp != 0 && s.Meta.Timestamp != ts {
		return Result{}, verr(ErrTimestampMismatch, CodeTimestampMismatch,
			"meta.timestamp %d differs from the signed timestamp %d", s.Meta.Timestamp, ts)
	}
	now := v.now()
	signed := time.UnixMilli(ts)
	if age := now.Sub(signed); age > v.maxAge() {
		return Result{}, verr(ErrExpired, CodeExpired, "tip signed %s ago, max age %s",
			age.Truncate(time.Second), v.maxAge())
	}
	if ahead := signed.Sub(now); ahead > v.maxFuture() {
		return Result{}, verr(ErrFuture, CodeFuture, "tip signed %s in the future, max %s",
			ahead.Truncate(time.Second), v.maxFuture())
	}
	res.TimestampSigned, res.Timestamp = true, ts
	return res, nil
}

func (v *Verifier) now() time.Time {
	if v == nil || v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

func (v *Verifier) maxAge() time.Duration {
	if v == nil || v.MaxAge <= 0 {
		return DefaultMaxAge
	}
	return v.MaxAge
}

func (v *Verifier) maxFuture() time.Duration {
	if v == nil || v.MaxFuture <= 0 {
		return DefaultMaxFuture
	}
	return v.MaxFuture
}

// checkMeta validates the fields of m that do not need the signature.
func checkMeta(m *Meta) error {
	if m.From == (common.Address{}) {
		return verr(ErrBadAddress, CodeBadAddress, "meta.from is the zero address")
	}
	if m.To == (common.Address{}) {
		return verr(ErrBadAddress, CodeBadAddress, "meta.to is the zero address")
	}
	if m.From == m.To {
		return verr(ErrSameFromTo, CodeSameFromTo, "meta.from and meta.to are both %s", m.From.Hex())
	}
	if m.Amount == nil || m.Amount.Sign() <= 0 || !isUint256(m.Amount) {
		return verr(ErrBadAmount, CodeBadAmount, "amount %s is not a uint256 greater than zero", amountString(m.Amount))
	}
	if m.Nonce != nil && !isUint256(m.Nonce) {
		return verr(ErrBadNonce, CodeBadNonce, "nonce is not a uint256")
	}
	if len(m.Cid) > MaxCidLen {
		return verr(ErrMalformed, CodeMalformed, "cid longer than %d bytes", MaxCidLen)
	}
	if m.CidHash != nil && m.Cid != "" {
		if got := crypto.Keccak256Hash([]byte(m.Cid)); got != *m.CidHash {
			return verr(ErrCidHashMismatch, CodeCidHashMismatch,
				"cid hashes to %s, not the given cidHash %s", got.Hex(), m.CidHash.Hex())
		}
	}
	return nil
}
