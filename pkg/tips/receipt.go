package tips

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// ReceiptType is the "type" of a receipt message.
const ReceiptType = "receipt"

// Receipt is the receiver's answer to a tip. When the receiver has an
// account it signs the receipt (SignReceipt); the tipper checks it with
// VerifyReceipt. Code and Reason are empty when Accepted; Forwarded is a
// ForwardQueued/ForwardDelivered/ForwardFailed state or "" when the
// receiver does not forward.
type Receipt struct {
	MessageHash common.Hash
	Accepted    bool
	Code        string
	Reason      string
	Forwarded   string
	Signer      *common.Address // nil when unsigned
	Signature   []byte          // personal_sign over Digest, V 27/28
}

// receiptDomain separates receipt signatures from any other personal_sign.
const receiptDomain = "vtpeer receipt v1"

// Digest returns the bytes that are personal_signed: a domain line and one
// line per field, so that no field can be moved into another.
func (r *Receipt) Digest() []byte {
	var b strings.Builder
	b.WriteString(receiptDomain + "\n")
	b.WriteString("messageHash:" + r.MessageHash.Hex() + "\n")
	b.WriteString("accepted:" + strconv.FormatBool(r.Accepted) + "\n")
	b.WriteString("code:" + strconv.Quote(r.Code) + "\n")
	b.WriteString("reason:" + strconv.Quote(r.Reason) + "\n")
	b.WriteString("forwarded:" + strconv.Quote(r.Forwarded) + "\n")
	return []byte(b.String())
}

// SignReceipt sets r.Signer and r.Signature with signer's account.
func SignReceipt(signer Signer, r *Receipt) error {
	sig, err := PersonalSign(signer, r.Digest())
	if err != nil {
		return fmt.Errorf("tips: sign receipt: %w", err)
	}
	a := signer.Address()
	r.Signer, r.Signature = &a, sig
	return nil
}

// VerifyReceipt checks r's signature and returns its signer, which must be
// r.Signer. An unsigned receipt, a tampered one, or one signed by another
// account fails with ErrBadReceipt.
func VerifyReceipt(r *Receipt) (common.Address, error) {
	if r.Signer == nil || len(r.Signature) == 0 {
		return common.Address{}, fmt.Errorf("%w: unsigned", ErrBadReceipt)
	}
	got, err := RecoverPersonal(r.Digest(), r.Signature)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %w", ErrBadReceipt, err)
	}
	if got != *r.Signer {
		return common.Address{}, fmt.Errorf("%w: signed by %s, not %s", ErrBadReceipt, got.Hex(), r.Signer.Hex())
	}
	return got, nil
}

type wireReceipt struct {
	Type        string  `json:"type"`
	MessageHash string  `json:"messageHash"`
	Accepted    bool    `json:"accepted"`
	Code        string  `json:"code,omitempty"`
	Reason      string  `json:"reason,omitempty"`
	Forwarded   string  `json:"forwarded,omitempty"`
	Signer      *string `json:"signer,omitempty"`
	Signature   string  `json:"signature,omitempty"`
}

// MarshalJSON writes {"type":"receipt","messageHash","accepted","code",
// "reason","forwarded","signer","signature"} (empty fields omitted).
func (r Receipt) MarshalJSON() ([]byte, error) {
	w := wireReceipt{Type: ReceiptType, MessageHash: r.MessageHash.Hex(), Accepted: r.Accepted,
		Code: r.Code, Reason: r.Reason, Forwarded: r.Forwarded}
	if r.Signer != nil {
		s := r.Signer.Hex()
		w.Signer = &s
	}
	if len(r.Signature) > 0 {
		w.Signature = hexutil.Encode(r.Signature)
	}
	return json.Marshal(w)
}

// MaxReceiptSize is the largest receipt UnmarshalJSON accepts.
const MaxReceiptSize = 8 << 10

// UnmarshalJSON reads the form MarshalJSON writes. It checks the form only:
// call VerifyReceipt.
func (r *Receipt) UnmarshalJSON(b []byte) error {
	if len(b) > MaxReceiptSize {
		return fmt.Errorf("%w: receipt larger than %d bytes", ErrMalformed, MaxReceiptSize)
	}
	var w wireReceipt
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("%w: receipt: %s", ErrMalformed, jsonErrText(err))
	}
	if w.Type != ReceiptType {
		return fmt.Errorf("%w: type %q is not %q", ErrMalformed, truncate(w.Type), ReceiptType)
	}
	h, err := parseHash(w.MessageHash)
	if err != nil {
		return fmt.Errorf("%w: receipt messageHash", ErrMalformed)
	}
	out := Receipt{MessageHash: h, Accepted: w.Accepted, Code: w.Code, Reason: w.Reason, Forwarded: w.Forwarded}
	if w.Signer != nil {
		if !common.IsHexAddress(*w.Signer) {
			return fmt.Errorf("%w: receipt signer", ErrMalformed)
		}
		a := common.HexToAddress(*w.Signer)
		out.Signer = &a
	}
	if w.Signature != "" {
		if out.Signature, err = hexutil.Decode(w.Signature); err != nil {
			return fmt.Errorf("%w: receipt signature", ErrMalformed)
		}
	}
	*r = out
	return nil
}
