package tips

import (
	"encoding/json"
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
	f.Fuzz(func(t *testing.T, b []byte) {
		sm, err := ParseSignedMeta(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error without code: %v", err)
			}
			return
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
