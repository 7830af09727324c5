package app

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeChat: any body decodes or returns an error, never panics; what
// decodes is UTF-8 and survives a round trip.
func FuzzDecodeChat(f *testing.F) {
	for _, s := range []string{`{"text":"hi"}`, `{"id":"abc","text":"☕"}`, `{"text":1}`, `[]`, `{"text":"\ud800"}`, "{\"text\":\"\xff\"}", ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := DecodeChat(body)
		if err != nil {
			return
		}
		if !utf8.ValidString(c.Text) || !utf8.ValidString(c.ID) {
			t.Fatalf("decoded non-UTF-8: %q", c.Text)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := DecodeChat(b)
		if err != nil || c2 != c {
			t.Fatalf("round trip: %+v → %+v (%v)", c, c2, err)
		}
	})
}

// FuzzDecodeReceipt: any body decodes or returns an error, never panics;
// a receipt reported as signed verified.
func FuzzDecodeReceipt(f *testing.F) {
	for _, s := range []string{
		`{"messageHash":"0x0000000000000000000000000000000000000000000000000000000000000000","accepted":true}`,
		`{"messageHash":"0x12","accepted":false,"code":"replay"}`,
		`{"messageHash":"0x0000000000000000000000000000000000000000000000000000000000000000","accepted":true,"signer":"0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58","signature":"0x00"}`,
		`null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeReceipt("peer", body)
		if err != nil {
			return
		}
		if r.Signer != "" && !r.SignerValid {
			t.Fatalf("signer %s reported without a valid signature", r.Signer)
		}
	})
}
