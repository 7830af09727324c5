package tips_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/verytippers/vtpeer/pkg/seal"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// Known-answer vectors for the texts and blobs that offline delivery and
// receipts put on the wire, beside the seal's handshake vectors:
// testdata/seal/offline.json, checked here through the public APIs and by
// testdata/seal/check_vectors.py, written from docs/PROTOCOL.md alone.
// Regenerate (a new HPKE blob each time) with
//
//	go test ./pkg/tips -run TestOfflineVectors -update-offline-vectors

var updateOffline = flag.Bool("update-offline-vectors", false, "rewrite testdata/seal/offline.json")

// offlineVectors is testdata/seal/offline.json. Byte strings are hex.
type offlineVectors struct {
	Description string `json:"description"`
	// SignerPrivate is a well-known throwaway secp256k1 key; every
	// signature below is by its address, deterministic (RFC 6979).
	SignerPrivate string `json:"signerPrivate"`
	SignerAddress string `json:"signerAddress"`
	Identity      struct {
		Room       string `json:"room"`
		Role       string `json:"role"`
		Transcript string `json:"transcript"`
		StaticKey  string `json:"staticKey"`
		Text       string `json:"text"`
		EIP191Hash string `json:"eip191Hash"`
		Signature  string `json:"signature"`
		MailboxID  string `json:"mailboxId"`
		StaticPriv string `json:"staticPrivate"`
	} `json:"identity"`
	Mail struct {
		Room             string `json:"room"`
		RecipientPrivate string `json:"recipientPrivate"`
		RecipientPublic  string `json:"recipientPublic"`
		ID               string `json:"id"`
		From             string `json:"from"`
		Kind             string `json:"kind"`
		SentAt           int64  `json:"sentAt"`
		Body             string `json:"body"` // UTF-8 text
		SigningText      string `json:"signingText"`
		EIP191Hash       string `json:"eip191Hash"`
		Signature        string `json:"signature"`
		Content          string `json:"content"` // the marshalled MailContent, the HPKE plaintext
		HPKEInfo         string `json:"hpkeInfo"`
		Blob             string `json:"blob"`
	} `json:"mail"`
	Receipt struct {
		MessageHash string `json:"messageHash"`
		Accepted    bool   `json:"accepted"`
		Code        string `json:"code"`
		Reason      string `json:"reason"`
		Forwarded   string `json:"forwarded"`
		Digest      string `json:"digest"`
		EIP191Hash  string `json:"eip191Hash"`
		Signature   string `json:"signature"`
		JSON        string `json:"json"`
	} `json:"receipt"`
}

var offlineVectorsPath = filepath.Join("..", "..", "testdata", "seal", "offline.json")

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func TestOfflineVectors(t *testing.T) {
	if *updateOffline {
		writeOfflineVectors(t)
	}
	raw, err := os.ReadFile(offlineVectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var v offlineVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	signer := common.HexToAddress(v.SignerAddress)
	recovers := func(t *testing.T, text, hash, sig string) {
		t.Helper()
		if got := hex.EncodeToString(accounts.TextHash([]byte(text))); got != hash {
			t.Fatalf("EIP-191 hash %s, vector %s", got, hash)
		}
		a, err := tips.RecoverPersonal([]byte(text), unhex(t, sig))
		if err != nil || a != signer {
			t.Fatalf("signature recovers to %s (%v), want %s", a.Hex(), err, signer.Hex())
		}
	}

	t.Run("identity", func(t *testing.T) {
		id := v.Identity
		role := seal.RoleAnswerer
		if id.Role == "offerer" {
			role = seal.RoleOfferer
		}
		text := seal.IdentityMessage(id.Room, role, unhex(t, id.Transcript), unhex(t, id.StaticKey))
		if text != id.Text {
			t.Fatalf("identity text\n%q\nvector\n%q", text, id.Text)
		}
		recovers(t, id.Text, id.EIP191Hash, id.Signature)
		priv, err := ecdh.X25519().NewPrivateKey(unhex(t, id.StaticPriv))
		if err != nil || !bytes.Equal(priv.PublicKey().Bytes(), unhex(t, id.StaticKey)) {
			t.Fatalf("static private key does not match the static key (%v)", err)
		}
		if got := seal.MailboxID(unhex(t, id.StaticKey)); got != id.MailboxID {
			t.Fatalf("MailboxID %s, vector %s", got, id.MailboxID)
		}
	})

	t.Run("mail", func(t *testing.T) {
		m := v.Mail
		priv, err := ecdh.X25519().NewPrivateKey(unhex(t, m.RecipientPrivate))
		if err != nil || hex.EncodeToString(priv.PublicKey().Bytes()) != m.RecipientPublic {
			t.Fatalf("recipient key (%v)", err)
		}
		pt, err := seal.OpenMail(priv, m.Room, unhex(t, m.Blob))
		if err != nil {
			t.Fatalf("OpenMail: %v", err)
		}
		if hex.EncodeToString(pt) != m.Content {
			t.Fatalf("opened plaintext %x, vector %s", pt, m.Content)
		}
		c, err := seal.ParseMailContent(pt)
		if err != nil {
			t.Fatal(err)
		}
		if c.ID != m.ID || c.From != m.From || c.Kind != m.Kind || c.SentAt != m.SentAt || string(c.Body) != m.Body ||
			hex.EncodeToString(c.Signature) != m.Signature {
			t.Fatalf("content %+v differs from the vector", c)
		}
		if text := seal.MailSigningText(m.Room, priv.PublicKey().Bytes(), c); text != m.SigningText {
			t.Fatalf("mail signing text\n%q\nvector\n%q", text, m.SigningText)
		}
		recovers(t, m.SigningText, m.EIP191Hash, m.Signature)
		if _, err := seal.VerifyMail(m.Room, priv.PublicKey().Bytes(), c, recoverHex); err != nil {
			t.Fatalf("VerifyMail: %v", err)
		}
		if _, err := seal.OpenMail(priv, m.Room+"x", unhex(t, m.Blob)); err == nil {
			t.Fatal("the blob opened in another room")
		}
	})

	t.Run("receipt", func(t *testing.T) {
		rv := v.Receipt
		var r tips.Receipt
		if err := json.Unmarshal([]byte(rv.JSON), &r); err != nil {
			t.Fatal(err)
		}
		if r.MessageHash.Hex() != rv.MessageHash || r.Accepted != rv.Accepted || r.Code != rv.Code ||
			r.Reason != rv.Reason || r.Forwarded != rv.Forwarded {
			t.Fatalf("receipt JSON %+v differs from the vector's fields", r)
		}
		if string(r.Digest()) != rv.Digest {
			t.Fatalf("receipt digest\n%q\nvector\n%q", r.Digest(), rv.Digest)
		}
		recovers(t, rv.Digest, rv.EIP191Hash, rv.Signature)
		if a, err := tips.VerifyReceipt(&r); err != nil || a != signer {
			t.Fatalf("VerifyReceipt: %s, %v", a.Hex(), err)
		}
	})
}

func recoverHex(msg, sig []byte) (string, error) {
	a, err := tips.RecoverPersonal(msg, sig)
	return a.Hex(), err
}

// fixedBytes returns n bytes of SHA-256(label) repeated: reproducible keys.
func fixedBytes(label string) []byte {
	s := sha256.Sum256([]byte(label))
	return s[:]
}

func writeOfflineVectors(t *testing.T) {
	key, err := crypto.HexToECDSA("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
	if err != nil {
		t.Fatal(err)
	}
	signer := tips.NewKeySigner(key)
	sign := func(text string) string {
		sig, err := tips.PersonalSign(signer, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(sig)
	}
	var v offlineVectors
	v.Description = "vtpeer offline-delivery and receipt known-answer vectors; byte strings are hex. " +
		"Formats: docs/PROTOCOL.md (Identity, Offline mail, Receipts). Checked by pkg/tips/offline_vectors_test.go " +
		"and testdata/seal/check_vectors.py. The secp256k1 key is a public test key: never use it."
	v.SignerPrivate = hex.EncodeToString(crypto.FromECDSA(key))
	v.SignerAddress = signer.Address().Hex()

	static, err := ecdh.X25519().NewPrivateKey(fixedBytes("vtpeer vectors static key"))
	if err != nil {
		t.Fatal(err)
	}
	id := &v.Identity
	id.Room, id.Role = "lobby ☕", "answerer"
	id.Transcript = hex.EncodeToString(fixedBytes("vtpeer vectors transcript"))
	id.StaticPriv = hex.EncodeToString(static.Bytes())
	id.StaticKey = hex.EncodeToString(static.PublicKey().Bytes())
	id.Text = seal.IdentityMessage(id.Room, seal.RoleAnswerer, unhex(t, id.Transcript), static.PublicKey().Bytes())
	id.EIP191Hash = hex.EncodeToString(accounts.TextHash([]byte(id.Text)))
	id.Signature = sign(id.Text)
	id.MailboxID = seal.MailboxID(static.PublicKey().Bytes())

	m := &v.Mail
	m.Room = id.Room
	m.RecipientPrivate, m.RecipientPublic = id.StaticPriv, id.StaticKey
	m.ID, m.From, m.Kind, m.SentAt = "0123456789abcdef01234567", signer.Address().Hex(), "chat", 1796040000000
	m.Body = `{"text":"while you were away"}`
	c := seal.MailContent{ID: m.ID, From: m.From, Kind: m.Kind, SentAt: m.SentAt, Body: []byte(m.Body)}
	c, err = seal.SignMail(m.Room, static.PublicKey().Bytes(), c, func(msg []byte) ([]byte, error) {
		return tips.PersonalSign(signer, msg)
	})
	if err != nil {
		t.Fatal(err)
	}
	m.SigningText = seal.MailSigningText(m.Room, static.PublicKey().Bytes(), c)
	m.EIP191Hash = hex.EncodeToString(accounts.TextHash([]byte(m.SigningText)))
	m.Signature = hex.EncodeToString(c.Signature)
	pt, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m.Content = hex.EncodeToString(pt)
	info := []byte{0, 0, 0, byte(len(seal.MailTag))}
	info = append(info, seal.MailTag...)
	info = append(info, 0, 0, 0, byte(len(m.Room)))
	m.HPKEInfo = hex.EncodeToString(append(info, m.Room...))
	blob, err := seal.SealMail(static.PublicKey().Bytes(), m.Room, pt)
	if err != nil {
		t.Fatal(err)
	}
	m.Blob = hex.EncodeToString(blob)

	r := tips.Receipt{MessageHash: common.BytesToHash(fixedBytes("vtpeer vectors tip")), Accepted: false,
		Code: "replay", Reason: "tip already accepted", Forwarded: ""}
	if err := tips.SignReceipt(signer, &r); err != nil {
		t.Fatal(err)
	}
	rv := &v.Receipt
	rv.MessageHash, rv.Accepted, rv.Code, rv.Reason, rv.Forwarded = r.MessageHash.Hex(), r.Accepted, r.Code, r.Reason, r.Forwarded
	rv.Digest = string(r.Digest())
	rv.EIP191Hash = hex.EncodeToString(accounts.TextHash(r.Digest()))
	rv.Signature = hex.EncodeToString(r.Signature)
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	rv.JSON = string(js)

	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(offlineVectorsPath, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
