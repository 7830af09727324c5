package seal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "regenerate ../../testdata/seal/vectors.json")

const vectorsPath = "../../testdata/seal/vectors.json"

// rfc7748Shared is the X25519 shared secret of RFC 7748 §6.1 for the
// first vector's private keys: an anchor independent of this package.
const rfc7748Shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

type vectorFile struct {
	Description string   `json:"description"`
	Vectors     []vector `json:"vectors"`
}

// vector: inputs first, then every derived value. Binary values are hex;
// messages are the exact JSON text sent.
type vector struct {
	Name                string `json:"name"`
	Room                string `json:"room"`
	NoChannelBinding    bool   `json:"noChannelBinding"`
	OffererPrivate      string `json:"offererPrivate"`
	AnswererPrivate     string `json:"answererPrivate"`
	OffererFingerprint  string `json:"offererFingerprint"`
	AnswererFingerprint string `json:"answererFingerprint"`
	PlaintextOA         string `json:"plaintextOffererToAnswerer"` // text vectors: frames OA0 and OA1
	PlaintextAO         string `json:"plaintextAnswererToOfferer"`
	// AppFrames, in the application-frame vector, describes the plaintexts instead: the first
	// frames of a real session (docs/PROTOCOL.md "Application frames").
	AppFrames *appFrameVectors `json:"appFrames,omitempty"`

	OffererPublic  string `json:"offererPublic"`
	AnswererPublic string `json:"answererPublic"`
	Commit         string `json:"commit"`
	OffererHello   string `json:"offererHello"`
	AnswererHello  string `json:"answererHello"`
	Reveal         string `json:"reveal"`
	SharedSecret   string `json:"sharedSecret"`
	TranscriptHash string `json:"transcriptHash"`
	KeyOA          string `json:"keyOffererToAnswerer"`
	KeyAO          string `json:"keyAnswererToOfferer"`
	SASKey         string `json:"sasKey"`
	SAS            string `json:"sas"`
	// The exact plaintext bytes inside each frame (hex), for text and application frames alike.
	PlaintextOA0Hex string `json:"plaintextOffererToAnswerer0Hex"`
	PlaintextOA1Hex string `json:"plaintextOffererToAnswerer1Hex"`
	PlaintextAO0Hex string `json:"plaintextAnswererToOfferer0Hex"`
	FrameOA0        string `json:"frameOffererToAnswerer0"`
	FrameOA1        string `json:"frameOffererToAnswerer1"`
	FrameAO0        string `json:"frameAnswererToOfferer0"`
	IdentityMsgO    string `json:"identityMessageOfferer"`
}

// appFrameVectors are the application frames sealed in the application-frame vector.
type appFrameVectors struct {
	OA0 appFrameVector `json:"offererToAnswerer0"`
	OA1 appFrameVector `json:"offererToAnswerer1"`
	AO0 appFrameVector `json:"answererToOfferer0"`
}

// appFrameVector is one application frame by its fields (pkg/peer/frame.go).
type appFrameVector struct {
	Type     string  `json:"type"`               // "start", "data" or "ack"
	Instance string  `json:"instance,omitempty"` // start: 16 hex digits (a u64)
	Base     uint64  `json:"base,omitempty"`     // start
	Identity *string `json:"identity,omitempty"` // start: the identity JSON, "" = anonymous
	Seq      uint64  `json:"seq,omitempty"`      // data, ack
	Ack      *uint64 `json:"ack,omitempty"`      // data: piggybacked cumulative ack, 0 = nothing yet
	Kind     string  `json:"kind,omitempty"`     // data
	Body     string  `json:"body,omitempty"`     // data
}

// encode builds the frame from the layout in docs/PROTOCOL.md (written out here, not taken
// from pkg/peer, which its own test checks against these bytes).
func (f appFrameVector) encode() []byte {
	var b []byte
	switch f.Type {
	case "start":
		b = append(b, 0x01)
		b = append(b, mustHex(f.Instance)...)
		b = binary.BigEndian.AppendUint64(b, f.Base)
		b = binary.BigEndian.AppendUint16(b, uint16(len(*f.Identity)))
		b = append(b, *f.Identity...)
	case "data":
		b = append(b, 0x02)
		b = binary.BigEndian.AppendUint64(b, f.Seq)
		b = binary.BigEndian.AppendUint64(b, *f.Ack)
		b = append(b, byte(len(f.Kind)))
		b = append(b, f.Kind...)
		b = append(b, f.Body...)
	case "ack":
		b = append(b, 0x03)
		b = binary.BigEndian.AppendUint64(b, f.Seq)
	}
	return b
}

var vectorInputs = []vector{
	{
		Name: "direct path, RFC 7748 section 6.1 keys", Room: "demo",
		OffererPrivate:      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		AnswererPrivate:     "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
		OffererFingerprint:  hex.EncodeToString(fp("offerer certificate")),
		AnswererFingerprint: hex.EncodeToString(fp("answerer certificate")),
		PlaintextOA:         `{"type":"chat","text":"hello"}`, PlaintextAO: "",
	},
	{
		Name: "server relay path, no channel binding, non-ASCII room", Room: "café ☕ \"quoted\"\n",
		NoChannelBinding: true,
		OffererPrivate:   "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		AnswererPrivate:  "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		PlaintextOA:      "first", PlaintextAO: "reply",
	},
	{
		Name: "application frames: the first sealed frames of a session", Room: "lobby",
		OffererPrivate:      "c8a9d5a91091ad851c668b0736c1c9a02936c0d3ad62670858088047ba057475",
		AnswererPrivate:     "90a2a7e1f7a1c5b1e26e2c0d9d6f5e4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e",
		OffererFingerprint:  hex.EncodeToString(fp("offerer certificate")),
		AnswererFingerprint: hex.EncodeToString(fp("answerer certificate")),
		AppFrames: &appFrameVectors{
			// each side's first sealed frame is its start frame: nothing sent yet, so base 1
			OA0: appFrameVector{Type: "start", Instance: "0123456789abcdef", Base: 1, Identity: new("")},
			// then data from seq 1; ack 0: nothing received yet
			OA1: appFrameVector{Type: "data", Seq: 1, Ack: new(uint64(0)), Kind: "chat", Body: `{"text":"hello"}`},
			AO0: appFrameVector{Type: "start", Instance: "fedcba9876543211", Base: 1, Identity: new("")},
		},
	},
}

// computeVector fills the derived fields of in by running both sides.
func computeVector(t *testing.T, in vector) vector {
	t.Helper()
	v := in
	co := Config{Room: v.Room, Role: RoleOfferer, NoChannelBinding: v.NoChannelBinding,
		Rand: bytes.NewReader(mustHex(v.OffererPrivate))}
	ca := Config{Room: v.Room, Role: RoleAnswerer, NoChannelBinding: v.NoChannelBinding,
		Rand: bytes.NewReader(mustHex(v.AnswererPrivate))}
	if !v.NoChannelBinding {
		co.LocalFingerprint, co.RemoteFingerprint = mustHex(v.OffererFingerprint), mustHex(v.AnswererFingerprint)
		ca.LocalFingerprint, ca.RemoteFingerprint = co.RemoteFingerprint, co.LocalFingerprint
	}
	o, a := newPair(t, co, ca)
	v.OffererPublic, v.AnswererPublic = hex.EncodeToString(o.pub), hex.EncodeToString(a.pub)
	v.Commit = hex.EncodeToString(Commitment(o.pub))
	m1, _ := o.Start()
	a.Start()
	m2, _, err := a.Handle(m1)
	if err != nil {
		t.Fatal(err)
	}
	m3, so, err := o.Handle(m2)
	if err != nil {
		t.Fatal(err)
	}
	_, sa, err := a.Handle(m3)
	if err != nil {
		t.Fatal(err)
	}
	v.OffererHello, v.AnswererHello, v.Reveal = string(m1), string(m2), string(m3)
	if so.SAS() != sa.SAS() || !bytes.Equal(so.th, sa.th) {
		t.Fatal("sides disagree")
	}
	// Recompute the secret values from the spec'd pieces.
	sharedSecret := x25519(t, mustHex(v.OffererPrivate), a.pub)
	th := TranscriptHash(v.Room, o.pub, co.LocalFingerprint, a.pub, ca.LocalFingerprint)
	if !bytes.Equal(th, so.th) {
		t.Fatal("TH differs from the session's")
	}
	k, err := deriveKeys(sharedSecret, th)
	if err != nil {
		t.Fatal(err)
	}
	v.SharedSecret, v.TranscriptHash = hex.EncodeToString(sharedSecret), hex.EncodeToString(th)
	v.KeyOA, v.KeyAO, v.SASKey = hex.EncodeToString(k.offererToAnswerer), hex.EncodeToString(k.answererToOfferer), hex.EncodeToString(k.sas)
	v.SAS = so.SAS()
	seal := func(s *Session, pt []byte) string {
		f, err := s.Seal(pt)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(f)
	}
	oa0, oa1, ao0 := []byte(v.PlaintextOA), []byte(v.PlaintextOA), []byte(v.PlaintextAO)
	if v.AppFrames != nil {
		oa0, oa1, ao0 = v.AppFrames.OA0.encode(), v.AppFrames.OA1.encode(), v.AppFrames.AO0.encode()
	}
	v.PlaintextOA0Hex, v.PlaintextOA1Hex, v.PlaintextAO0Hex = hex.EncodeToString(oa0), hex.EncodeToString(oa1), hex.EncodeToString(ao0)
	v.FrameOA0, v.FrameOA1 = seal(so, oa0), seal(so, oa1)
	v.FrameAO0 = seal(sa, ao0)
	for i, f := range []string{v.FrameOA0, v.FrameOA1} {
		if pt, err := sa.Open(mustHex(f)); err != nil || !bytes.Equal(pt, [][]byte{oa0, oa1}[i]) {
			t.Fatal("frame does not open")
		}
	}
	v.IdentityMsgO = IdentityMessage(v.Room, RoleOfferer, th, nil)
	return v
}

func TestVectors(t *testing.T) {
	t.Parallel()
	var got vectorFile
	got.Description = "vtpeer seal v1 known-answer vectors (docs/PROTOCOL.md). " +
		"Hex for binary values; messages are the exact JSON text on the wire; frames are " +
		"version|seq|AES-256-GCM(ciphertext||tag). Regenerate: go test ./pkg/seal -run TestVectors -update"
	for _, in := range vectorInputs {
		got.Vectors = append(got.Vectors, computeVector(t, in))
	}
	if got.Vectors[0].SharedSecret != rfc7748Shared {
		t.Fatalf("shared secret %s is not RFC 7748's", got.Vectors[0].SharedSecret)
	}
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(vectorsPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	var want vectorFile
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Vectors) != len(got.Vectors) {
		t.Fatalf("%d vectors on disk, %d computed", len(want.Vectors), len(got.Vectors))
	}
	for i := range want.Vectors {
		w, _ := json.MarshalIndent(want.Vectors[i], "", " ")
		g, _ := json.MarshalIndent(got.Vectors[i], "", " ")
		if !bytes.Equal(w, g) {
			t.Errorf("vector %d differs\nwant %s\ngot  %s", i, w, g)
		}
	}
}
