package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// fakeSigner stands in for EIP-191: sig = SHA-256(addr||msg) || addr || 13 zero bytes.
func fakeSign(addr []byte) SignFunc {
	return func(msg []byte) ([]byte, error) {
		h := sha256.Sum256(append(bytes.Clone(addr), msg...))
		return append(append(h[:], addr...), make([]byte, 13)...), nil
	}
}

func fakeRecover(msg, sig []byte) (string, error) {
	addr := sig[32:52]
	h := sha256.Sum256(append(bytes.Clone(addr), msg...))
	if !bytes.Equal(h[:], sig[:32]) {
		return "", errors.New("bad signature")
	}
	return "0x" + hex.EncodeToString(addr), nil
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	addrO := bytes.Repeat([]byte{0xaa}, 20)
	addrA := bytes.Repeat([]byte{0xbb}, 20)
	so, sa := mustPair(t)
	static := bytes.Repeat([]byte{7}, 32)
	idO, err := so.SignIdentity("0x"+strings.ToUpper(hex.EncodeToString(addrO)), static, fakeSign(addrO))
	if err != nil {
		t.Fatal(err)
	}
	wire, err := idO.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseIdentity(wire)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := sa.VerifyIdentity(got, fakeRecover)
	if err != nil || addr != "0x"+hex.EncodeToString(addrO) {
		t.Fatalf("verify: %q %v", addr, err)
	}
	// Reflected back to its signer: wrong role, refused.
	if _, err := so.VerifyIdentity(got, fakeRecover); !errors.Is(err, ErrIdentity) {
		t.Fatalf("reflection: %v", err)
	}
	// Static key swapped: not covered by the signature any more.
	swapped := got
	swapped.StaticKey = bytes.Repeat([]byte{8}, 32)
	if _, err := sa.VerifyIdentity(swapped, fakeRecover); !errors.Is(err, ErrIdentity) {
		t.Fatalf("static key swap: %v", err)
	}
	// Claimed address differs from the signer.
	lie := got
	lie.Address = "0x" + hex.EncodeToString(addrA)
	if _, err := sa.VerifyIdentity(lie, fakeRecover); !errors.Is(err, ErrIdentity) {
		t.Fatalf("address lie: %v", err)
	}
	// Another session (a MITM's): TH differs, refused.
	_, other := mustPair(t)
	if _, err := other.VerifyIdentity(got, fakeRecover); !errors.Is(err, ErrIdentity) {
		t.Fatalf("other session: %v", err)
	}
}

func TestIdentityMessage(t *testing.T) {
	t.Parallel()
	th := bytes.Repeat([]byte{1}, 32)
	m := IdentityMessage("a\"b\\c\n\x01é", RoleAnswerer, th, nil)
	want := "vtpeer handshake v1\nroom: \"a\\\"b\\\\c\\n\\u0001é\"\nrole: answerer\ntranscript: " + hex.EncodeToString(th) + "\n"
	if m != want {
		t.Fatalf("got %q\nwant %q", m, want)
	}
	if !strings.HasPrefix(m, IdentityPrefix) || len(m) <= 32 {
		t.Fatal("identity message could pass for a 32-byte hash")
	}
}

func TestParseIdentityStrict(t *testing.T) {
	t.Parallel()
	sig := "0x" + strings.Repeat("ab", 65)
	addr := "0x71C7656EC7ab88b098defB751B7401B5f6d8976F"
	bad := map[string]string{
		"short address":  `{"type":"identity","address":"0x71C7","signature":"` + sig + `"}`,
		"no 0x":          `{"type":"identity","address":"` + addr[2:] + `00","signature":"` + sig + `"}`,
		"short sig":      `{"type":"identity","address":"` + addr + `","signature":"` + sig[:100] + `"}`,
		"non-hex":        `{"type":"identity","address":"0x71C7656EC7ab88b098defB751B7401B5f6d8976G","signature":"` + sig + `"}`,
		"bad static key": `{"type":"identity","address":"` + addr + `","signature":"` + sig + `","staticKey":"AAAA"}`,
		"extra field":    `{"type":"identity","address":"` + addr + `","signature":"` + sig + `","x":"1"}`,
		"wrong type":     `{"type":"hello","address":"` + addr + `","signature":"` + sig + `"}`,
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseIdentity([]byte(s)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v", err)
			}
		})
	}
}
