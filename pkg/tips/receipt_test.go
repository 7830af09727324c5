package tips

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func TestReceiptSignVerify(t *testing.T) {
	t.Parallel()
	s := testSigner(t, 1)
	r := Receipt{MessageHash: common.Hash{1, 2}, Accepted: false, Code: CodeReplay, Reason: "seen before", Forwarded: ""}
	if err := SignReceipt(s, &r); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got Receipt
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if a, err := VerifyReceipt(&got); err != nil || a != s.Address() {
		t.Fatalf("VerifyReceipt = %s, %v", a.Hex(), err)
	}
	other := testSigner(t, 0).Address()
	tamper := map[string]func(*Receipt){
		"accepted":  func(r *Receipt) { r.Accepted = true },
		"code":      func(r *Receipt) { r.Code = "" },
		"reason":    func(r *Receipt) { r.Reason += "!" },
		"forwarded": func(r *Receipt) { r.Forwarded = ForwardDelivered },
		"hash":      func(r *Receipt) { r.MessageHash[0] ^= 1 },
		"signer":    func(r *Receipt) { r.Signer = &other },
		"sig":       func(r *Receipt) { r.Signature[5] ^= 1 },
		"unsigned":  func(r *Receipt) { r.Signature = nil },
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var c Receipt
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			f(&c)
			if _, err := VerifyReceipt(&c); !errors.Is(err, ErrBadReceipt) {
				t.Fatalf("tampered receipt verified: %v", err)
			}
		})
	}
}
