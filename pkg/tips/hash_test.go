package tips

import (
	"bytes"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// packedABI computes abi.encodePacked(address, address, uint256, bytes32,
// uint256) with go-ethereum's abi package: each argument is abi-encoded on
// its own (abi.Arguments{...}.Pack), and the static word is cut to its packed
// width (addresses are right-aligned in their 32-byte word: take the last 20
// bytes; uint256 and bytes32 are already 32 bytes packed).
func packedABI(t *testing.T, m Meta) []byte {
	t.Helper()
	mk := func(typ string) abi.Arguments {
		ty, err := abi.NewType(typ, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return abi.Arguments{{Type: ty}}
	}
	word := func(typ string, v any) []byte {
		b, err := mk(typ).Pack(v)
		if err != nil || len(b) != 32 {
			t.Fatalf("pack %s: %v (%d bytes)", typ, err, len(b))
		}
		return b
	}
	var out []byte
	out = append(out, word("address", m.From)[12:]...)
	out = append(out, word("address", m.To)[12:]...)
	out = append(out, word("uint256", m.Amount)...)
	out = append(out, word("bytes32", [32]byte(m.CidHashValue()))...)
	out = append(out, word("uint256", m.Nonce)...)
	return out
}

func TestMessageHashEqualsABIEncodePacked(t *testing.T) {
	t.Parallel()
	maxU := new(big.Int).Set(maxUint256)
	zero := common.Hash{}
	cases := []Meta{
		{From: common.HexToAddress("0x01"), To: common.HexToAddress("0x02"), Amount: big.NewInt(1), Nonce: big.NewInt(0)},
		{From: common.HexToAddress("0xD4be4442D6C200E665c6b08A2FEf88c925D1A557"), To: common.HexToAddress("0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58"),
			Amount: maxU, Cid: "bafy", Nonce: maxU},
		{From: common.HexToAddress("0xffffffffffffffffffffffffffffffffffffffff"), To: common.HexToAddress("0x8000000000000000000000000000000000000000"),
			Amount: big.NewInt(5), CidHash: &zero, Nonce: NewNonce(bytes.NewReader(bytes.Repeat([]byte{0xab}, 16)), time.UnixMilli(1_700_000_000_000))},
	}
	for i, m := range cases {
		want := crypto.Keccak256Hash(packedABI(t, m))
		if got := m.MessageHash(); got != want {
			t.Errorf("case %d: MessageHash %s, abi %s", i, got.Hex(), want.Hex())
		}
	}
}

func TestNonceTimestamp(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_765_000_000_123)
	n := NewNonce(bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)), now)
	ts, ok := NonceTimestamp(n)
	if !ok || ts != now.UnixMilli() {
		t.Fatalf("NonceTimestamp = %d %v", ts, ok)
	}
	for _, s := range []string{"0", "1", "115792089237316195423570985008687907853269984665640564039457584007913129639935"} {
		v, _ := new(big.Int).SetString(s, 10)
		if _, ok := NonceTimestamp(v); ok {
			t.Errorf("nonce %s read as timestamped", s)
		}
	}
}
