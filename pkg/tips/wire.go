package tips

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Wire limits.
const (
	// MaxSignedMetaSize is the largest signed-meta JSON ParseSignedMeta reads.
	MaxSignedMetaSize = 16 << 10
	// MaxCidLen is the longest cid accepted, in bytes.
	MaxCidLen = 4096
	// SignedMetaType is the "type" of a signed-meta message.
	SignedMetaType = "signed-meta"
)

// SignedMeta is a Meta with its EIP-191 signature, as exchanged between peers.
type SignedMeta struct {
	Meta      Meta
	Signature []byte // 65 bytes [R || S || V], V 27/28 (0/1 accepted)
	// MessageHash is the hash the sender claims to have signed, as received
	// (nil when absent). Verify compares it to the recomputed hash and never
	// trusts it.
	MessageHash *common.Hash
}

type wireMetaOut struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Amount    string `json:"amount"`
	Timestamp int64  `json:"timestamp"`
	Cid       string `json:"cid"`
	CidHash   string `json:"cidHash"`
	Nonce     string `json:"nonce"`
}

type wireOut struct {
	Type        string      `json:"type"`
	Meta        wireMetaOut `json:"meta"`
	Signature   string      `json:"signature"`
	MessageHash string      `json:"messageHash"`
}

// MarshalJSON writes the wire form
//
//	{"type":"signed-meta","meta":{"from","to","amount","timestamp","cid","cidHash","nonce"},
//	 "signature":"0x…","messageHash":"0x…"}
//
// with checksummed addresses, amount (wei) and nonce as decimal strings,
// timestamp in unix ms, the cidHash that is signed, and the recomputed
// messageHash.
func (s *SignedMeta) MarshalJSON() ([]byte, error) {
	m := s.Meta
	nonce := m.Nonce
	if nonce == nil {
		nonce = new(big.Int)
	}
	return json.Marshal(wireOut{
		Type: SignedMetaType,
		Meta: wireMetaOut{
			From: m.From.Hex(), To: m.To.Hex(), Amount: amountString(m.Amount),
			Timestamp: m.Timestamp, Cid: m.Cid, CidHash: m.CidHashValue().Hex(), Nonce: nonce.String(),
		},
		Signature:   hexutil.Encode(s.Signature),
		MessageHash: m.MessageHash().Hex(),
	})
}

type wireMetaIn struct {
	From      *string         `json:"from"`
	To        *string         `json:"to"`
	Amount    json.RawMessage `json:"amount"`
	Timestamp json.RawMessage `json:"timestamp"`
	Cid       *string         `json:"cid"`
	CidHash   *string         `json:"cidHash"`
	Nonce     json.RawMessage `json:"nonce"`
}

type wireIn struct {
	Type        *string     `json:"type"`
	Meta        *wireMetaIn `json:"meta"`
	Signature   *string     `json:"signature"`
	MessageHash *string     `json:"messageHash"`
}

// ParseSignedMeta decodes a signed-meta JSON message strictly: no unknown
// or duplicate fields (at any depth), no trailing data, at most
// MaxSignedMetaSize bytes, addresses of 20 bytes in lower, upper or EIP-55
// mixed case (a mixed-case address must match its checksum), amount a
// decimal string (a JSON number loses precision above 2^53 in the browser).
// It also accepts the old browser client's form: "type" absent, no cidHash
// or messageHash, nonce and timestamp as JSON numbers or strings, nonce
// absent (= 0). Every error is a *VerifyError whose Code names the faulty
// field (CodeBadAddress, CodeBadAmount, CodeBadNonce) or is CodeMalformed,
// and whose Reason names the field and what is wrong with it.
// ParseSignedMeta checks the form only: call Verify.
func ParseSignedMeta(b []byte) (*SignedMeta, error) {
	if len(b) > MaxSignedMetaSize {
		return nil, verr(ErrMalformed, CodeMalformed, "signed meta larger than %d bytes", MaxSignedMetaSize)
	}
	var w wireIn
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, verr(ErrMalformed, CodeMalformed, "invalid JSON: %s", jsonErrText(err))
		}
		return nil, verr(ErrMalformed, CodeMalformed, "%s", jsonErrText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, verr(ErrMalformed, CodeMalformed, "trailing data after the JSON object")
	}
	if err := checkUniqueKeys(b); err != nil {
		return nil, verr(ErrMalformed, CodeMalformed, "%s", err.Error())
	}
	if w.Type != nil && *w.Type != SignedMetaType {
		return nil, verr(ErrMalformed, CodeMalformed, "type %q is not %q", truncate(*w.Type), SignedMetaType)
	}
	if w.Meta == nil {
		return nil, verr(ErrMalformed, CodeMalformed, "no meta")
	}
	if w.Signature == nil {
		return nil, verr(ErrMalformed, CodeMalformed, "no signature")
	}
	sm := &SignedMeta{}
	if err := decodeMeta(w.Meta, &sm.Meta); err != nil {
		return nil, err
	}
	sig, err := hexutil.Decode(*w.Signature)
	if err != nil {
		return nil, verr(ErrMalformed, CodeMalformed, "signature is not 0x-prefixed hex")
	}
	sm.Signature = sig
	if w.MessageHash != nil {
		h, err := parseHash(*w.MessageHash)
		if err != nil {
			return nil, verr(ErrMalformed, CodeMalformed, "messageHash is not a 32-byte 0x-prefixed hex value")
		}
		sm.MessageHash = &h
	}
	return sm, nil
}

func decodeMeta(w *wireMetaIn, m *Meta) error {
	var err error
	if m.From, err = parseAddress("from", w.From); err != nil {
		return err
	}
	if m.To, err = parseAddress("to", w.To); err != nil {
		return err
	}
	if w.Amount == nil {
		return verr(ErrBadAmount, CodeBadAmount, "no amount")
	}
	if k := jsonKind(w.Amount); k == "number" {
		return verr(ErrBadAmount, CodeBadAmount, "amount must be a decimal string, not a number")
	} else if k != "string" {
		return verr(ErrBadAmount, CodeBadAmount, "field \"amount\" must be a string, got %s", k)
	}
	if m.Amount, err = parseUint256(w.Amount); err != nil {
		return verr(ErrBadAmount, CodeBadAmount, "amount %s", err.Error())
	}
	m.Nonce = new(big.Int)
	if w.Nonce != nil {
		if k := jsonKind(w.Nonce); k != "string" && k != "number" {
			return verr(ErrBadNonce, CodeBadNonce, "field \"nonce\" must be a string, got %s", k)
		}
		if m.Nonce, err = parseUint256(w.Nonce); err != nil {
			return verr(ErrBadNonce, CodeBadNonce, "nonce %s", err.Error())
		}
	}
	if w.Timestamp != nil {
		if k := jsonKind(w.Timestamp); k != "string" && k != "number" {
			return verr(ErrMalformed, CodeMalformed, "field \"timestamp\" must be a number, got %s", k)
		}
		ts, err := parseUint256(w.Timestamp)
		if err != nil || !ts.IsInt64() {
			return verr(ErrMalformed, CodeMalformed, "timestamp is not a non-negative integer of milliseconds")
		}
		m.Timestamp = ts.Int64()
	}
	if w.Cid != nil {
		m.Cid = *w.Cid
	}
	if w.CidHash != nil {
		h, err := parseHash(*w.CidHash)
		if err != nil {
			return verr(ErrMalformed, CodeMalformed, "cidHash is not a 32-byte 0x-prefixed hex value")
		}
		m.CidHash = &h
	}
	return nil
}

func parseAddress(field string, s *string) (common.Address, error) {
	if s == nil {
		return common.Address{}, verr(ErrBadAddress, CodeBadAddress, "no %s address", field)
	}
	if !strings.HasPrefix(*s, "0x") && !strings.HasPrefix(*s, "0X") || !common.IsHexAddress(*s) {
		return common.Address{}, verr(ErrBadAddress, CodeBadAddress, "%s %q is not a 20-byte 0x-prefixed hex address", field, truncate(*s))
	}
	a := common.HexToAddress(*s)
	// A mixed-case address carries an EIP-55 checksum, which must match
	// (all-lower and all-upper addresses carry none).
	hexPart := (*s)[2:]
	if hexPart != strings.ToLower(hexPart) && hexPart != strings.ToUpper(hexPart) && a.Hex()[2:] != hexPart {
		return common.Address{}, verr(ErrBadAddress, CodeBadAddress,
			"%s %q has a bad EIP-55 checksum: check it for a typo (or write it all in lower case)", field, truncate(*s))
	}
	return a, nil
}

func parseHash(s string) (common.Hash, error) {
	b, err := hexutil.Decode(s)
	if err != nil || len(b) != common.HashLength {
		return common.Hash{}, errors.New("bad hash")
	}
	return common.BytesToHash(b), nil
}

// maxUint256Digits is the number of decimal digits of 2^256-1.
const maxUint256Digits = 78

// parseUint256 reads a JSON number or string holding a decimal uint256. Its
// errors complete a sentence that starts with the field's name.
func parseUint256(raw json.RawMessage) (*big.Int, error) {
	s := string(raw)
	if strings.HasPrefix(s, `"`) {
		var u string
		if err := json.Unmarshal(raw, &u); err != nil {
			return nil, errors.New("is not a decimal string")
		}
		s = u
	}
	if strings.HasPrefix(s, "-") {
		return nil, errors.New("is negative, want a non-negative uint256")
	}
	if s == "" {
		return nil, errors.New("is empty, want a decimal integer")
	}
	if !digitsOnly(s) {
		return nil, errors.New("is not a decimal integer")
	}
	if len(strings.TrimLeft(s, "0")) > maxUint256Digits {
		return nil, errors.New("exceeds uint256")
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, errors.New("is not a decimal integer")
	}
	if !isUint256(v) {
		return nil, errors.New("exceeds uint256")
	}
	return v, nil
}

func jsonErrText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at offset " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return typeErrText(te)
	}
	return truncate(strings.TrimPrefix(err.Error(), "json: "))
}

func truncate(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// ParseAddress parses a 0x-prefixed 20-byte hex address. The error is a
// *VerifyError with CodeBadAddress.
//
// A mixed-case address must pass EIP-55: one whose case does not match its
// checksum is refused (a typo in a payment address), while all-lower and
// all-upper addresses carry no checksum and pass.
func ParseAddress(s string) (common.Address, error) {
	return parseAddress("address", &s)
}
