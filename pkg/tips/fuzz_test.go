package tips

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParseSignedMeta: any input either fails with a *VerifyError or parses
// into a value that survives a marshal/parse round trip and Verify without
// panicking.
func FuzzParseSignedMeta(f *testing.F) {
	vf := loadVectors(f)
	for _, c := range vf.Cases {
		b, _ := json.Marshal(map[string]any{"type": "signed-meta", "meta": c.Meta, "signature": c.Signature, "messageHash": c.MessageHash})
		f.Add(b)
	}
	f.Add([]byte(`{"meta":{"from":"0x01","to":"0x02","amount":1,"nonce":1e3},"signature":"0x"}`))
	f.Add([]byte(`{"meta":{"from":"0xD4be4442D6C200E665c6b08A2FEf88c925D1A557","to":"0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58","amount":"1","amount":"2"},"signature":"0x"}`))
	f.Add([]byte(`{"meta":{"from":"0xd4be4442d6c200e665c6b08a2fef88c925d1A557","to":"0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58","amount":"1","nonce":[{"a":1,"a":2}]},"signature":"0x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sm, err := ParseSignedMeta(b)
		if err != nil {
			var ve *VerifyError
			if CodeOf(err) == "" || !errors.As(err, &ve) || ve.Reason == "" {
				t.Fatalf("error without code or reason: %v", err)
			}
			return
		}
		if err := checkUniqueKeys(b); err != nil {
			t.Fatalf("accepted a message with %v", err)
		}
		_, _ = (&Verifier{}).Verify(sm)
		out, err := json.Marshal(sm)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSignedMeta(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if again.Meta.MessageHash() != sm.Meta.MessageHash() {
			t.Fatal("hash changed across a round trip")
		}
	})
}

// TestCheckUniqueKeys: a key repeated in any object, at any depth, is found;
// equal keys in different objects, and keys equal to values, are not
// duplicates.
func TestCheckUniqueKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, err string
	}{
		{`{"a":"a","b":["a","a"],"c":{"a":1,"b":{"a":2}}}`, ""},
		{`[{"a":1},{"a":1}]`, ""},
		{`{"a":{},"b":[],"c":null,"d":true,"e":"a"}`, ""},
		{`{"a":1,"a":1}`, `duplicate field "a"`},
		{`{"x":[{"k":1,"k":2}]}`, `duplicate field "k"`},
		{`{"m":{"a":[1,{"b":2}],"a":3}}`, `duplicate field "a" in "m"`},
		{`{"m":{"k":{}},"m":1}`, `duplicate field "m"`},
		{`{"a":`, ""}, // syntax errors are the decoder's to report
	}
	for _, tt := range tests {
		err := checkUniqueKeys([]byte(tt.in))
		if got := ""; err != nil {
			got = err.Error()
			if tt.err == "" || got != tt.err {
				t.Errorf("%s: %q, want %q", tt.in, got, tt.err)
			}
		} else if tt.err != "" {
			t.Errorf("%s: no error, want %q", tt.in, tt.err)
		}
	}
}
