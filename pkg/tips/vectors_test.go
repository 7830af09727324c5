package tips

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

type vectorFile struct {
	Accounts []struct {
		Address    string `json:"address"`
		PrivateKey string `json:"privateKey"`
	} `json:"accounts"`
	Cases []struct {
		Name        string          `json:"name"`
		Valid       bool            `json:"valid"`
		Why         string          `json:"why"`
		Meta        json.RawMessage `json:"meta"`
		MessageHash string          `json:"messageHash"`
		Signature   string          `json:"signature"`
	} `json:"cases"`
}

func vectorsDir() string { return filepath.Join("..", "..", "testdata", "vectors") }

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir(), "tips-ethers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// expectedCode maps every ethers case to the result vtpeer must give; a new
// case in the file fails the test until it is added here.
var expectedCode = map[string]string{
	"small-amount-no-cid":             "",
	"one-token-with-cid":              "",
	"fractional-amount":               "",
	"max-uint256-nonce":               "",
	"timestamp-nonce":                 "",
	"zero-cidhash-orchestrator-draft": "",
	"unicode-cid":                     "",
	"lowercase-addresses":             "",
	"v-zero-one":                      "",
	"tampered-amount":                 CodeSignerMismatch,
	"tampered-recipient":              CodeSignerMismatch,
	"tampered-nonce":                  CodeSignerMismatch,
	"tampered-cid":                    CodeCidHashMismatch,
	"wrong-signer":                    CodeSignerMismatch,
	"high-s-malleated":                CodeHighS,
	"short-signature":                 CodeSignatureLength,
	"zero-signature":                  CodeBadSignature,
	"negative-amount":                 CodeBadAmount,
	"malformed-from":                  CodeBadAddress,
}

// TestEthersVectors parses each case in the wire form (without the stored
// messageHash, so the hash is recomputed from meta) and verifies it.
func TestEthersVectors(t *testing.T) {
	t.Parallel()
	vf := loadVectors(t)
	if len(vf.Cases) != len(expectedCode) {
		t.Fatalf("%d cases in file, %d in the table", len(vf.Cases), len(expectedCode))
	}
	for _, c := range vf.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			want, ok := expectedCode[c.Name]
			if !ok {
				t.Fatalf("case %q missing from expectedCode", c.Name)
			}
			if (want == "") != c.Valid {
				t.Fatalf("table says code %q but file says valid=%v", want, c.Valid)
			}
			wire, _ := json.Marshal(map[string]any{"type": "signed-meta", "meta": c.Meta, "signature": c.Signature})
			var res Result
			sm, err := ParseSignedMeta(wire)
			if err == nil {
				res, err = (&Verifier{}).Verify(sm)
			}
			if got := CodeOf(err); got != want {
				t.Fatalf("code %q (err %v), want %q (%s)", got, err, want, c.Why)
			}
			if want != "" {
				var ve *VerifyError
				if !errors.As(err, &ve) || ve.Reason == "" {
					t.Fatalf("error %v is not a *VerifyError with a reason", err)
				}
				return
			}
			if res.Hash != common.HexToHash(c.MessageHash) {
				t.Fatalf("hash %s, ethers %s", res.Hash.Hex(), c.MessageHash)
			}
			if res.Signer != sm.Meta.From {
				t.Fatalf("signer %s, from %s", res.Signer.Hex(), sm.Meta.From.Hex())
			}
			if res.TimestampSigned {
				t.Fatal("ethers vectors carry no vtpeer timestamp nonce")
			}
		})
	}
}

// TestEthersVectorsWithMessageHash sends the stored messageHash too: valid
// cases still verify, tampered metas are caught by the hash comparison.
func TestEthersVectorsWithMessageHash(t *testing.T) {
	t.Parallel()
	vf := loadVectors(t)
	for _, c := range vf.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			wire, _ := json.Marshal(map[string]any{"type": "signed-meta", "meta": c.Meta, "signature": c.Signature, "messageHash": c.MessageHash})
			sm, err := ParseSignedMeta(wire)
			if err == nil {
				_, err = (&Verifier{}).Verify(sm)
			}
			switch c.Name {
			case "tampered-amount", "tampered-recipient", "tampered-nonce":
				if CodeOf(err) != CodeMessageHashMismatch {
					t.Fatalf("code %q, want %q", CodeOf(err), CodeMessageHashMismatch)
				}
			default:
				if c.Valid != (err == nil) {
					t.Fatalf("valid=%v but err=%v", c.Valid, err)
				}
			}
		})
	}
}
