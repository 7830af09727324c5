package tips

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Meta is the tip meta-transaction a tipper signs and TipRouter executes.
//
// The signed hash is TipRouter's getMessageHash:
//
//	keccak256(abi.encodePacked(address from, address to, uint256 amount, bytes32 cidHash, uint256 nonce))
//
// Timestamp is informational on the wire; vtpeer's own nonces embed it (see
// NewNonce) so that it is covered by the signature.
type Meta struct {
	From      common.Address
	To        common.Address
	Amount    *big.Int     // wei, uint256, > 0
	Timestamp int64        // unix milliseconds, 0 when absent
	Cid       string       // optional IPFS CID or message; "" when absent
	CidHash   *common.Hash // explicit cidHash as received; nil = derived from Cid
	Nonce     *big.Int     // uint256; nil counts as 0
}

// emptyCidHash is keccak256("") — what the old browser client hashes when a
// tip has no cid.
var emptyCidHash = crypto.Keccak256Hash(nil)

// CidHashValue returns the cidHash that is signed: the explicit CidHash when
// set, else keccak256(utf8(Cid)) (keccak256("") for an empty cid).
func (m Meta) CidHashValue() common.Hash {
	if m.CidHash != nil {
		return *m.CidHash
	}
	if m.Cid == "" {
		return emptyCidHash
	}
	return crypto.Keccak256Hash([]byte(m.Cid))
}

// MessageHash returns keccak256(abi.encodePacked(from, to, amount, cidHash,
// nonce)). Amount and nonce must be uint256 (see Verifier); values outside
// that range are hashed as zero, which never matches a real signature.
func (m Meta) MessageHash() common.Hash {
	var buf [20 + 20 + 32 + 32 + 32]byte
	copy(buf[0:20], m.From[:])
	copy(buf[20:40], m.To[:])
	putUint256(buf[40:72], m.Amount)
	cid := m.CidHashValue()
	copy(buf[72:104], cid[:])
	putUint256(buf[104:136], m.Nonce)
	return crypto.Keccak256Hash(buf[:])
}

func putUint256(dst []byte, v *big.Int) {
	if isUint256(v) {
		v.FillBytes(dst)
	}
}

var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

func isUint256(v *big.Int) bool {
	return v != nil && v.Sign() >= 0 && v.BitLen() <= 256
}

// Bounds of a timestamp embedded in a nonce: a nonce whose upper 128 bits are
// not a millisecond time between 2020 and 3000 is not in vtpeer's form.
const (
	minNonceTimestamp = 1577836800000  // 2020-01-01T00:00:00Z
	maxNonceTimestamp = 32503680000000 // 3000-01-01T00:00:00Z
)

// NewMeta is a fresh tip from → to of amount wei, stamped now, with
// vtpeer's timestamped nonce (NewNonce from crypto/rand).
func NewMeta(from, to common.Address, amount *big.Int, cid string, now time.Time) Meta {
	return Meta{From: from, To: to, Amount: amount, Timestamp: now.UnixMilli(), Cid: cid, Nonce: NewNonce(rand.Reader, now)}
}

// NewNonce returns (now in unix ms << 128) | 128 random bits read from rand,
// so that the signing time is covered by the signature. If rand fails the
// random half is zero; callers wanting to know pass crypto/rand.Reader, which
// does not fail.
func NewNonce(rand io.Reader, now time.Time) *big.Int {
	var r [16]byte
	if _, err := io.ReadFull(rand, r[:]); err != nil {
		r = [16]byte{}
	}
	n := new(big.Int).Lsh(big.NewInt(now.UnixMilli()), 128)
	return n.Or(n, new(big.Int).SetBytes(r[:]))
}

// NonceTimestamp returns the unix-ms timestamp embedded in a nonce made by
// NewNonce, and false when the nonce is not of that form (another client's).
func NonceTimestamp(nonce *big.Int) (int64, bool) {
	if !isUint256(nonce) {
		return 0, false
	}
	hi := new(big.Int).Rsh(nonce, 128)
	if !hi.IsInt64() {
		return 0, false
	}
	ts := hi.Int64()
	if ts < minNonceTimestamp || ts >= maxNonceTimestamp {
		return 0, false
	}
	return ts, true
}

// String describes the meta for logs; it holds no secrets.
func (m Meta) String() string {
	return fmt.Sprintf("tip %s -> %s amount %s wei", m.From.Hex(), m.To.Hex(), amountString(m.Amount))
}

func amountString(v *big.Int) string {
	if v == nil {
		return "0"
	}
	return v.String()
}
