package tips_test

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/verytippers/vtpeer/pkg/tips"
)

func Example() {
	key, _ := crypto.HexToECDSA("a941ac52d296f6814ef2bd70a5828d90f98ebbe4b2446e91ef570e56ec33818f")
	signer := tips.NewKeySigner(key)
	defer signer.Close()

	amount, _ := tips.ParseAmount("0.5")
	sm, _ := tips.Sign(signer, tips.Meta{
		To:     common.HexToAddress("0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58"),
		Amount: amount,
		Cid:    "thanks",
		Nonce:  big.NewInt(1),
	})
	wire, _ := sm.MarshalJSON()

	got, err := tips.ParseSignedMeta(wire)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := (&tips.Verifier{}).Verify(got)
	fmt.Println(res.Signer.Hex(), tips.FormatAmount(got.Meta.Amount), res.TimestampSigned, err)
	// Output: 0xD4be4442D6C200E665c6b08A2FEf88c925D1A557 0.5 false <nil>
}
