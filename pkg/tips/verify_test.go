package tips

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	signer := testSigner(t, 0)
	to := testSigner(t, 1).Address()
	now := time.UnixMilli(1_765_000_000_000)
	fixed := func() time.Time { return now }
	mk := func(ts time.Time) Meta {
		return Meta{To: to, Amount: big.NewInt(5), Timestamp: ts.UnixMilli(), Cid: "hi", Nonce: NewNonce(rand.Reader, ts)}
	}
	tests := []struct {
		name   string
		meta   Meta
		mutate func(*SignedMeta)
		code   string
	}{
		{name: "fresh", meta: mk(now)},
		{name: "one-minute-old", meta: mk(now.Add(-time.Minute))},
		{name: "too-old", meta: mk(now.Add(-11 * time.Minute)), code: CodeExpired},
		{name: "slightly-ahead", meta: mk(now.Add(time.Minute))},
		{name: "too-far-ahead", meta: mk(now.Add(3 * time.Minute)), code: CodeFuture},
		{name: "timestamp-edited", meta: mk(now), mutate: func(s *SignedMeta) { s.Meta.Timestamp++ }, code: CodeTimestampMismatch},
		{name: "timestamp-absent", meta: mk(now), mutate: func(s *SignedMeta) { s.Meta.Timestamp = 0 }},
		{name: "v-0-1", meta: mk(now), mutate: func(s *SignedMeta) { s.Signature[64] -= 27 }},
		{name: "v-29", meta: mk(now), mutate: func(s *SignedMeta) { s.Signature[64] = 29 }, code: CodeSignatureV},
		{name: "hash-lie", meta: mk(now), mutate: func(s *SignedMeta) { h := common.Hash{1}; s.MessageHash = &h }, code: CodeMessageHashMismatch},
		{name: "same-from-to", meta: mk(now), mutate: func(s *SignedMeta) { s.Meta.To = s.Meta.From }, code: CodeSameFromTo},
		{name: "zero-amount", meta: mk(now), mutate: func(s *SignedMeta) { s.Meta.Amount = new(big.Int) }, code: CodeBadAmount},
		{name: "zero-to", meta: mk(now), mutate: func(s *SignedMeta) { s.Meta.To = common.Address{} }, code: CodeBadAddress},
		{name: "nonce-overflow", meta: mk(now), mutate: func(s *SignedMeta) { s.Meta.Nonce = new(big.Int).Lsh(big.NewInt(1), 256) }, code: CodeBadNonce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sm, err := Sign(signer, tt.meta)
			if err != nil {
				t.Fatal(err)
			}
			// Through the wire and back, as a peer receives it.
			b, err := json.Marshal(sm)
			if err != nil {
				t.Fatal(err)
			}
			if sm, err = ParseSignedMeta(b); err != nil {
				t.Fatal(err)
			}
			if tt.mutate != nil {
				tt.mutate(sm)
			}
			res, err := (&Verifier{Now: fixed}).Verify(sm)
			if got := CodeOf(err); got != tt.code {
				t.Fatalf("code %q (%v), want %q", got, err, tt.code)
			}
			if tt.code == "" && (!res.TimestampSigned || res.Signer != signer.Address()) {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

func TestSignRefusesOtherFrom(t *testing.T) {
	t.Parallel()
	s := testSigner(t, 0)
	if _, err := Sign(s, Meta{From: common.HexToAddress("0x01"), To: common.HexToAddress("0x02"), Amount: big.NewInt(1)}); err == nil {
		t.Fatal("signed a meta for another from")
	}
	if _, err := Sign(s, Meta{To: common.HexToAddress("0x02")}); CodeOf(err) != CodeBadAmount {
		t.Fatalf("nil amount: %v", err)
	}
}

func TestOldBrowserForm(t *testing.T) {
	t.Parallel()
	s := testSigner(t, 0)
	to := testSigner(t, 1).Address()
	// The old client: nonce defaulted to 0, numbers as JSON numbers, no cidHash,
	// no messageHash, no type.
	sm, err := Sign(s, Meta{To: to, Amount: big.NewInt(7), Nonce: big.NewInt(0)})
	if err != nil {
		t.Fatal(err)
	}
	msg := `{"meta":{"from":"` + s.Address().Hex() + `","to":"` + to.Hex() + `","amount":"7","timestamp":1765000000000},"signature":"0x` +
		common.Bytes2Hex(sm.Signature) + `"}`
	got, err := ParseSignedMeta([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Verifier{}).Verify(got)
	if err != nil || res.TimestampSigned || res.Hash != sm.Meta.MessageHash() {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestParseSignedMetaRejects(t *testing.T) {
	t.Parallel()
	ok := `"from":"0xD4be4442D6C200E665c6b08A2FEf88c925D1A557","to":"0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58"`
	tests := map[string]struct{ in, code string }{
		"not-json":       {`{`, CodeMalformed},
		"trailing":       {`{"meta":{` + ok + `,"amount":"1"},"signature":"0x"} x`, CodeMalformed},
		"unknown-field":  {`{"meta":{` + ok + `,"amount":"1","extra":1},"signature":"0x"}`, CodeMalformed},
		"wrong-type":     {`{"type":"chat","meta":{` + ok + `,"amount":"1"},"signature":"0x"}`, CodeMalformed},
		"no-signature":   {`{"meta":{` + ok + `,"amount":"1"}}`, CodeMalformed},
		"float-amount":   {`{"meta":{` + ok + `,"amount":1.5},"signature":"0x"}`, CodeBadAmount},
		"exp-amount":     {`{"meta":{` + ok + `,"amount":1e18},"signature":"0x"}`, CodeBadAmount},
		"bad-nonce":      {`{"meta":{` + ok + `,"amount":"1","nonce":"x"},"signature":"0x"}`, CodeBadNonce},
		"no-0x-from":     {`{"meta":{"from":"D4be4442D6C200E665c6b08A2FEf88c925D1A557","to":"0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58","amount":"1"},"signature":"0x"}`, CodeBadAddress},
		"bad-cidhash":    {`{"meta":{` + ok + `,"amount":"1","cidHash":"0x12"},"signature":"0x"}`, CodeMalformed},
		"bad-sig-hex":    {`{"meta":{` + ok + `,"amount":"1"},"signature":"zz"}`, CodeMalformed},
		"neg-timestamp":  {`{"meta":{` + ok + `,"amount":"1","timestamp":-1},"signature":"0x"}`, CodeMalformed},
		"null-meta":      {`{"meta":null,"signature":"0x"}`, CodeMalformed},
		"array":          {`[]`, CodeMalformed},
		"amount-as-bool": {`{"meta":{` + ok + `,"amount":true},"signature":"0x"}`, CodeBadAmount},
		"empty":          {``, CodeMalformed},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSignedMeta([]byte(tt.in))
			if CodeOf(err) != tt.code {
				t.Fatalf("code %q (%v), want %q", CodeOf(err), err, tt.code)
			}
		})
	}
}

// TestParseSignedMetaMessages: each way a signed meta can be wrong gets a
// reason that says exactly what is wrong (issue 8, item 12).
func TestParseSignedMetaMessages(t *testing.T) {
	t.Parallel()
	const (
		from    = `"from":"0xD4be4442D6C200E665c6b08A2FEf88c925D1A557"`
		to      = `"to":"0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58"`
		ok      = from + `,` + to
		sig     = `"signature":"0x"`
		max     = "115792089237316195423570985008687907853269984665640564039457584007913129639935"
		over    = "115792089237316195423570985008687907853269984665640564039457584007913129639936"
		tooLong = "1157920892373161954235709850086879078532699846656405640394575840079131296399351"
	)
	tests := []struct {
		name, in, code, reason string
	}{
		{"duplicate amount", `{"meta":{` + ok + `,"amount":"1","amount":"1000"},` + sig + `}`, CodeMalformed, `duplicate field "amount" in "meta"`},
		{"duplicate from", `{"meta":{` + ok + `,` + from + `,"amount":"1"},` + sig + `}`, CodeMalformed, `duplicate field "from" in "meta"`},
		{"duplicate signature", `{"meta":{` + ok + `,"amount":"1"},` + sig + `,` + sig + `}`, CodeMalformed, `duplicate field "signature"`},
		{"duplicate meta", `{"meta":{` + ok + `,"amount":"1"},"meta":{` + ok + `,"amount":"2"},` + sig + `}`, CodeMalformed, `duplicate field "meta"`},
		{"amount number", `{"meta":{` + ok + `,"amount":1},` + sig + `}`, CodeBadAmount, "amount must be a decimal string, not a number"},
		{"amount array", `{"meta":{` + ok + `,"amount":["1"]},` + sig + `}`, CodeBadAmount, `field "amount" must be a string, got array`},
		{"amount null", `{"meta":{` + ok + `,"amount":null},` + sig + `}`, CodeBadAmount, `field "amount" must be a string, got null`},
		{"nonce over uint256", `{"meta":{` + ok + `,"amount":"1","nonce":"` + over + `"},` + sig + `}`, CodeBadNonce, "nonce exceeds uint256"},
		{"nonce of 100 digits", `{"meta":{` + ok + `,"amount":"1","nonce":"` + strings.Repeat("9", 100) + `"},` + sig + `}`, CodeBadNonce, "nonce exceeds uint256"},
		{"nonce of 79 digits", `{"meta":{` + ok + `,"amount":"1","nonce":"` + tooLong + `"},` + sig + `}`, CodeBadNonce, "nonce exceeds uint256"},
		{"nonce letters", `{"meta":{` + ok + `,"amount":"1","nonce":"12a"},` + sig + `}`, CodeBadNonce, "nonce is not a decimal integer"},
		{"nonce array", `{"meta":{` + ok + `,"amount":"1","nonce":[1]},` + sig + `}`, CodeBadNonce, `field "nonce" must be a string, got array`},
		{"amount over uint256", `{"meta":{` + ok + `,"amount":"` + over + `"},` + sig + `}`, CodeBadAmount, "amount exceeds uint256"},
		{"from array", `{"meta":{"from":[],` + to + `,"amount":"1"},` + sig + `}`, CodeMalformed, `field "from" must be a string, got array`},
		{"meta string", `{"meta":"x",` + sig + `}`, CodeMalformed, `field "meta" must be an object, got string`},
		{"signature number", `{"meta":{` + ok + `,"amount":"1"},"signature":65}`, CodeMalformed, `field "signature" must be a string, got number`},
		{"top-level array", `[]`, CodeMalformed, "the message must be an object, got array"},
		{"timestamp object", `{"meta":{` + ok + `,"amount":"1","timestamp":{}},` + sig + `}`, CodeMalformed, `field "timestamp" must be a number, got object`},
		{"unknown field", `{"meta":{` + ok + `,"amount":"1","extra":1},` + sig + `}`, CodeMalformed, `unknown field "extra"`},
		{"bad checksum", `{"meta":{"from":"0xD4be4442D6C200E665c6b08A2FEf88c925D1A55a",` + to + `,"amount":"1"},` + sig + `}`, CodeBadAddress, "bad EIP-55 checksum"},
		{"bad checksum to", `{"meta":{` + from + `,"to":"0x19f860a5C0b29E5b52f6dC90A215C6b4ED37Aa58","amount":"1"},` + sig + `}`, CodeBadAddress, `to "0x19f860a5C0b29E5b52f6dC90A215C6b4ED37Aa58" has a bad EIP-55 checksum`},
		{"not hex", `{"meta":{"from":"0xZZbe4442D6C200E665c6b08A2FEf88c925D1A557",` + to + `,"amount":"1"},` + sig + `}`, CodeBadAddress, "is not a 20-byte 0x-prefixed hex address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSignedMeta([]byte(tt.in))
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("err %v, want a *VerifyError", err)
			}
			if ve.Code != tt.code || !strings.Contains(ve.Reason, tt.reason) {
				t.Fatalf("got %q (%s), want %q (%s)", ve.Reason, ve.Code, tt.reason, tt.code)
			}
		})
	}
	// The largest uint256 is still a valid nonce, in either case of address.
	in := `{"meta":{"from":"0xd4be4442d6c200e665c6b08a2fef88c925d1a557","to":"0X19F860A5C0B29E5B52F6DC90A215C6B4ED37AA58","amount":"1","nonce":"` + max + `"},` + sig + `}`
	if _, err := ParseSignedMeta([]byte(in)); err != nil {
		t.Fatalf("max nonce, all-lower and all-upper addresses: %v", err)
	}
	// Leading zeros do not count against the width.
	in = `{"meta":{` + ok + `,"amount":"1","nonce":"` + strings.Repeat("0", 200) + `7"},` + sig + `}`
	if sm, err := ParseSignedMeta([]byte(in)); err != nil || sm.Meta.Nonce.Int64() != 7 {
		t.Fatalf("zero-padded nonce: %v", err)
	}
}
