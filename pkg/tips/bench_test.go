package tips

import (
	"context"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

func benchTip(b *testing.B) (*KeySigner, *SignedMeta) {
	s := testSigner(b, 0)
	sm, err := Sign(s, Meta{To: common.HexToAddress("0x02"), Amount: big.NewInt(5), Cid: "bafy", Nonce: big.NewInt(9)})
	if err != nil {
		b.Fatal(err)
	}
	return s, sm
}

// BenchmarkVerify is a full Verify (hash, checks, recovery) of a parsed tip.
func BenchmarkVerify(b *testing.B) {
	_, sm := benchTip(b)
	v := &Verifier{}
	for b.Loop() {
		if _, err := v.Verify(sm); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEcrecover is the raw go-ethereum baseline for BenchmarkVerify.
func BenchmarkEcrecover(b *testing.B) {
	_, sm := benchTip(b)
	h := sm.Meta.MessageHash()
	digest := accounts.TextHash(h[:])
	sig := append([]byte(nil), sm.Signature...)
	sig[64] -= 27
	for b.Loop() {
		if _, err := crypto.Ecrecover(digest, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is a full Sign (checks, hash, personal_sign).
func BenchmarkSign(b *testing.B) {
	s, sm := benchTip(b)
	for b.Loop() {
		if _, err := Sign(s, sm.Meta); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCryptoSign is the raw go-ethereum baseline for BenchmarkSign.
func BenchmarkCryptoSign(b *testing.B) {
	s, sm := benchTip(b)
	h := sm.Meta.MessageHash()
	digest := accounts.TextHash(h[:])
	for b.Loop() {
		if _, err := crypto.Sign(digest, s.key); err != nil {
			b.Fatal(err)
		}
	}
}

func benchUnlock(b *testing.B, light bool) {
	js, _ := os.ReadFile(filepath.Join(vectorsDir(), "keystore", "ethers-keystore.json"))
	pw, _ := os.ReadFile(filepath.Join(vectorsDir(), "keystore", "ethers-keystore.password"))
	ks, err := OpenKeystore(b.TempDir(), light)
	if err != nil {
		b.Fatal(err)
	}
	addr, err := ks.ImportJSON(context.Background(), js, strings.TrimSpace(string(pw)), "")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := ks.Unlock(context.Background(), addr, strings.TrimSpace(string(pw)))
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkUnlockStandard unlocks a key stored with standard scrypt (N=2^18).
func BenchmarkUnlockStandard(b *testing.B) { benchUnlock(b, false) }

// BenchmarkUnlockLight unlocks a key stored with light scrypt (N=2^12).
func BenchmarkUnlockLight(b *testing.B) { benchUnlock(b, true) }
