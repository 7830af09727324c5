package tips

import (
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

// testSigner returns a signer for the ethers vector account i (0 or 1).
func testSigner(t testing.TB, i int) *KeySigner {
	t.Helper()
	vf := loadVectors(t)
	k, err := crypto.HexToECDSA(vf.Accounts[i].PrivateKey[2:])
	if err != nil {
		t.Fatal(err)
	}
	return NewKeySigner(k)
}
