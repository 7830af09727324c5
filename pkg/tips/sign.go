package tips

import (
	"crypto/ecdsa"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Signer signs 32-byte digests with one account's key.
type Signer interface {
	// Address is the account's address.
	Address() common.Address
	// SignHash signs a 32-byte digest and returns the raw 65-byte
	// [R || S || V] signature with V = 0 or 1 (go-ethereum's crypto.Sign form).
	SignHash(hash []byte) ([]byte, error)
}

// KeySigner is a Signer holding a private key in memory. Close zeroes it.
type KeySigner struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

// NewKeySigner returns a Signer for key. The KeySigner takes ownership of key
// and zeroes it on Close.
func NewKeySigner(key *ecdsa.PrivateKey) *KeySigner {
	return &KeySigner{key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}
}

// Address returns the key's address.
func (k *KeySigner) Address() common.Address { return k.addr }

// SignHash signs a 32-byte digest; V is 0 or 1.
func (k *KeySigner) SignHash(hash []byte) ([]byte, error) {
	if k.key == nil {
		return nil, fmt.Errorf("tips: sign: signer closed")
	}
	return crypto.Sign(hash, k.key)
}

// Close zeroes the private key. The KeySigner cannot sign afterwards.
func (k *KeySigner) Close() error {
	zeroKey(k.key)
	k.key = nil
	return nil
}

// PersonalSign signs msg as EIP-191 personal_sign (keccak256("\x19Ethereum
// Signed Message:\n" + len(msg) + msg)) and returns a 65-byte signature with
// V = 27 or 28, exactly what ethers' signer.signMessage(bytes) returns.
func PersonalSign(signer Signer, msg []byte) ([]byte, error) {
	sig, err := signer.SignHash(accounts.TextHash(msg))
	if err != nil {
		return nil, fmt.Errorf("tips: personal sign: %w", err)
	}
	if len(sig) != 65 {
		return nil, fmt.Errorf("tips: personal sign: signer returned %d bytes", len(sig))
	}
	out := make([]byte, 65)
	copy(out, sig)
	if out[64] < 27 {
		out[64] += 27
	}
	return out, nil
}

// RecoverPersonal returns the address that personal_signed msg. It accepts V
// as 27/28 or 0/1, rejects high-s signatures (EIP-2), and fails with a
// *VerifyError carrying the code of the check that failed.
func RecoverPersonal(msg, sig []byte) (common.Address, error) {
	return recoverDigest(accounts.TextHash(msg), sig)
}

var (
	secp256k1N     = crypto.S256().Params().N
	secp256k1HalfN = new(big.Int).Rsh(secp256k1N, 1)
)

func recoverDigest(digest, sig []byte) (common.Address, error) {
	if len(sig) != 65 {
		return common.Address{}, verr(ErrSignatureLength, CodeSignatureLength, "signature is %d bytes, want 65", len(sig))
	}
	v := sig[64]
	switch v {
	case 27, 28:
		v -= 27
	case 0, 1:
	default:
		return common.Address{}, verr(ErrSignatureV, CodeSignatureV, "signature V is %d, want 27 or 28", sig[64])
	}
	r := new(big.Int).SetBytes(sig[0:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if r.Sign() == 0 || s.Sign() == 0 || r.Cmp(secp256k1N) >= 0 || s.Cmp(secp256k1N) >= 0 {
		return common.Address{}, verr(ErrBadSignature, CodeBadSignature, "signature r or s out of range")
	}
	if s.Cmp(secp256k1HalfN) > 0 {
		return common.Address{}, verr(ErrHighS, CodeHighS, "signature s is not in the lower half of the curve order (EIP-2)")
	}
	norm := make([]byte, 65)
	copy(norm, sig)
	norm[64] = v
	pub, err := crypto.SigToPub(digest, norm)
	if err != nil {
		return common.Address{}, verr(ErrBadSignature, CodeBadSignature, "no public key recovers from the signature")
	}
	return crypto.PubkeyToAddress(*pub), nil
}

// Sign validates meta, fills an empty From with the signer's address, and
// returns it signed: personal_sign over the 32-byte MessageHash, V = 27/28.
// Meta.From must be the signer's address.
func Sign(signer Signer, meta Meta) (*SignedMeta, error) {
	if meta.From == (common.Address{}) {
		meta.From = signer.Address()
	}
	if meta.From != signer.Address() {
		return nil, fmt.Errorf("tips: sign: meta.from %s is not the signer %s", meta.From.Hex(), signer.Address().Hex())
	}
	if meta.Nonce == nil {
		meta.Nonce = new(big.Int)
	}
	if err := checkMeta(&meta); err != nil {
		return nil, fmt.Errorf("tips: sign: %w", err)
	}
	hash := meta.MessageHash()
	sig, err := PersonalSign(signer, hash[:])
	if err != nil {
		return nil, err
	}
	return &SignedMeta{Meta: meta, Signature: sig, MessageHash: &hash}, nil
}
