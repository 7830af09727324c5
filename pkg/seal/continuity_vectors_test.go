package seal

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"testing"
)

var updateContinuity = flag.Bool("update-continuity", false, "regenerate ../../testdata/seal/continuity.json")

const continuityVectorsPath = "../../testdata/seal/continuity.json"

// continuityFile holds the known-answer vectors of seal version 2 (docs/PROTOCOL.md
// "Continuity"): a first (version 1) session's continuity secret and close tags, version 2
// handshakes that continue it (or not), sealed application frames of the continued session with
// their plaintexts, and an abort message. Hex for binary values; messages are the exact text.
type continuityFile struct {
	Description string           `json:"description"`
	First       contSession      `json:"first"`
	Sessions    []contSession    `json:"sessions"`
	Abort       contAbort        `json:"abort"`
	Frames      []contFrame      `json:"frames"`
	FramesOf    string           `json:"framesOf"` // the name of the session whose keys seal Frames
	Relay       []contRelayClose `json:"relayClose"`
}

// contSession is one handshake: inputs first, then every derived value.
type contSession struct {
	Name                string   `json:"name"`
	Room                string   `json:"room"`
	NoChannelBinding    bool     `json:"noChannelBinding"`
	OffererPrivate      string   `json:"offererPrivate"`
	AnswererPrivate     string   `json:"answererPrivate"`
	OffererFingerprint  string   `json:"offererFingerprint"`
	AnswererFingerprint string   `json:"answererFingerprint"`
	OffererRetained     []string `json:"offererRetained"`
	AnswererRetained    []string `json:"answererRetained"`
	CloseGen            uint64   `json:"closeGen"`

	Version           int      `json:"version"`
	OffererRetainedID []string `json:"offererRetainedIds"` // rs1, rs2
	AnswererHeldID    []string `json:"answererRetainedIds"`
	OffererHello      string   `json:"offererHello"`
	AnswererHello     string   `json:"answererHello"`
	Reveal            string   `json:"reveal"`
	Continued         string   `json:"continuedId"`     // rs, "" when none
	ContinuedSecret   string   `json:"continuedSecret"` // CS mixed into the keys, "" when none
	SharedSecret      string   `json:"sharedSecret"`
	TranscriptHash    string   `json:"transcriptHash"`
	PRK               string   `json:"prk"`
	KeyOA             string   `json:"keyOffererToAnswerer"`
	KeyAO             string   `json:"keyAnswererToOfferer"`
	SASKey            string   `json:"sasKey"`
	SAS               string   `json:"sas"`
	ContinuitySecret  string   `json:"continuitySecret"` // CS_next
	ContinuityID      string   `json:"continuityId"`     // id(CS_next)
	CloseKey          string   `json:"closeKey"`
	CloseTagOfferer   string   `json:"closeTagOfferer"`
	CloseTagAnswerer  string   `json:"closeTagAnswerer"`
}

type contAbort struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// contFrame is one sealed application frame (docs/PROTOCOL.md "Application frames"): the fields,
// the plaintext they encode, and the frame sealed with the session's key for Direction at Seq.
type contFrame struct {
	Direction string `json:"direction"` // "offererToAnswerer" or "answererToOfferer"
	Seq       uint64 `json:"seq"`       // seal sequence number of the frame in its direction
	Type      string `json:"type"`      // start, data or ack
	Instance  string `json:"instance,omitempty"`
	Base      uint64 `json:"base,omitempty"`
	Identity  string `json:"identity,omitempty"`
	AppSeq    uint64 `json:"appSeq,omitempty"`
	Ack       uint64 `json:"ack,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Body      string `json:"body,omitempty"`
	Plaintext string `json:"plaintext"`
	Frame     string `json:"frame"`
}

// contRelayClose is the data of a server-relay close frame carrying a close tag of the second
// session (the server relay one).
type contRelayClose struct {
	Sender string `json:"sender"` // offerer or answerer
	Gen    uint64 `json:"gen"`
	Data   string `json:"data"` // the relay frame's data, exact JSON text
}

func unhexes(ss []string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		out = append(out, mustHex(s))
	}
	return out
}

// computeContSession runs both sides of in, fills the derived fields and returns the two sessions.
func computeContSession(t *testing.T, in contSession) (contSession, *Session, *Session) {
	t.Helper()
	v := in
	co := Config{Room: v.Room, Role: RoleOfferer, NoChannelBinding: v.NoChannelBinding,
		Retained: unhexes(v.OffererRetained), Rand: bytes.NewReader(mustHex(v.OffererPrivate))}
	ca := Config{Room: v.Room, Role: RoleAnswerer, NoChannelBinding: v.NoChannelBinding,
		Retained: unhexes(v.AnswererRetained), Rand: bytes.NewReader(mustHex(v.AnswererPrivate))}
	if !v.NoChannelBinding {
		co.LocalFingerprint, co.RemoteFingerprint = mustHex(v.OffererFingerprint), mustHex(v.AnswererFingerprint)
		ca.LocalFingerprint, ca.RemoteFingerprint = co.RemoteFingerprint, co.LocalFingerprint
	}
	o, a := newPair(t, co, ca)
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
	if so.SAS() != sa.SAS() || !bytes.Equal(so.th, sa.th) || so.Continued() != sa.Continued() {
		t.Fatal("sides disagree")
	}
	v.Version = so.Version()
	v.OffererRetainedID, v.AnswererHeldID = []string{}, []string{}
	for _, r := range co.Retained {
		v.OffererRetainedID = append(v.OffererRetainedID, hex.EncodeToString(ContinuityID(r)))
	}
	for _, r := range ca.Retained {
		v.AnswererHeldID = append(v.AnswererHeldID, hex.EncodeToString(ContinuityID(r)))
	}
	// Recompute every value from the spec'd pieces and check the sessions against them.
	oPub, aPub := o.pub, a.pub
	shared := x25519(t, mustHex(v.OffererPrivate), aPub)
	var cs, csID []byte
	if so.Continued() {
		cs = co.Retained[so.ContinuityIndex()]
		csID = ContinuityID(cs)
		if !bytes.Equal(cs, ca.Retained[sa.ContinuityIndex()]) {
			t.Fatal("the sides continue different secrets")
		}
	}
	th := TranscriptHash(v.Room, oPub, co.LocalFingerprint, aPub, ca.LocalFingerprint)
	ikm := shared
	if v.Version != VersionFirst {
		th = TranscriptHashV2(v.Room, oPub, co.LocalFingerprint, aPub, ca.LocalFingerprint, csID)
		ikm = append(append([]byte(nil), shared...), cs...)
	}
	if !bytes.Equal(th, so.th) {
		t.Fatal("TH differs from the session's")
	}
	k, err := deriveKeys(v.Version, shared, cs, th)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.continuity, so.next) || !bytes.Equal(k.close, so.closeKey) || !bytes.Equal(k.continuity, sa.next) {
		t.Fatal("continuity secret or close key differs from the sessions'")
	}
	v.Continued, v.ContinuedSecret = hex.EncodeToString(csID), hex.EncodeToString(cs)
	v.SharedSecret, v.TranscriptHash = hex.EncodeToString(shared), hex.EncodeToString(th)
	v.PRK = hex.EncodeToString(hkdfExtract(th, ikm))
	v.KeyOA, v.KeyAO, v.SASKey = hex.EncodeToString(k.offererToAnswerer), hex.EncodeToString(k.answererToOfferer), hex.EncodeToString(k.sas)
	v.SAS = so.SAS()
	v.ContinuitySecret, v.ContinuityID = hex.EncodeToString(k.continuity), hex.EncodeToString(ContinuityID(k.continuity))
	v.CloseKey = hex.EncodeToString(k.close)
	v.CloseTagOfferer, v.CloseTagAnswerer = hex.EncodeToString(so.CloseTag(v.CloseGen)), hex.EncodeToString(sa.CloseTag(v.CloseGen))
	if !sa.VerifyCloseTag(v.CloseGen, so.CloseTag(v.CloseGen)) || !so.VerifyCloseTag(v.CloseGen, sa.CloseTag(v.CloseGen)) {
		t.Fatal("close tags do not verify")
	}
	return v, so, sa
}

// hkdfExtract is HKDF-Extract with SHA-256 (RFC 5869): HMAC-SHA256(salt, ikm).
func hkdfExtract(salt, ikm []byte) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write(ikm)
	return m.Sum(nil)
}

// vecKey is a fixed private key for a vector: SHA-256 of a label.
func vecKey(label string) string {
	h := sha256.Sum256([]byte("vtpeer continuity vector: " + label))
	return hex.EncodeToString(h[:])
}

// The first (version 1) session: a relay path, as after `join --via server`.
var contFirst = contSession{
	Name: "first session (version 1, server relay)", Room: "lobby", NoChannelBinding: true,
	OffererPrivate:  vecKey("first offerer"),
	AnswererPrivate: vecKey("first answerer"),
	OffererRetained: []string{}, AnswererRetained: []string{},
	CloseGen: 1764201600000000001,
}

// staleSecret is a secret the offerer retains that the answerer never held.
var staleSecret = func() string {
	h := sha256.Sum256([]byte("vtpeer test: a stale continuity secret"))
	return hex.EncodeToString(h[:])
}()

// contInputs are the version 2 handshakes; "first" in a retained list stands for the first
// session's continuity secret.
var contInputs = []contSession{
	{
		Name: "continued (direct path, the answerer holds rs2)", Room: "lobby",
		OffererPrivate:      vecKey("continued offerer"),
		AnswererPrivate:     vecKey("continued answerer"),
		OffererFingerprint:  hex.EncodeToString(fp("offerer certificate, second transport")),
		AnswererFingerprint: hex.EncodeToString(fp("answerer certificate, second transport")),
		OffererRetained:     []string{staleSecret, "first"},
		AnswererRetained:    []string{"first"},
		CloseGen:            1764201600000000002,
	},
	{
		Name: "not continued (server relay, no secret in common)", Room: "lobby", NoChannelBinding: true,
		OffererPrivate:   vecKey("new offerer"),
		AnswererPrivate:  vecKey("new answerer"),
		OffererRetained:  []string{"first"},
		AnswererRetained: []string{staleSecret},
		CloseGen:         1764201600000000003,
	},
}

// contFrameInputs are the application frames sealed with the continued session's keys: each
// side's start frame, then a chat message and its acknowledgement.
var contFrameInputs = []contFrame{
	{Direction: "offererToAnswerer", Seq: 0, Type: "start", Instance: "0102030405060708", Base: 7},
	{Direction: "answererToOfferer", Seq: 0, Type: "start", Instance: "f0e0d0c0b0a09080", Base: 1},
	{Direction: "offererToAnswerer", Seq: 1, Type: "data", AppSeq: 7, Ack: 0, Kind: "chat", Body: `{"text":"still you?"}`},
	{Direction: "answererToOfferer", Seq: 1, Type: "ack", AppSeq: 7},
	{Direction: "answererToOfferer", Seq: 2, Type: "data", AppSeq: 1, Ack: 7, Kind: "chat", Body: `{"text":"yes, same SAS"}`},
}

// appPlaintext encodes f as docs/PROTOCOL.md "Application frames" lays it out, by hand (pkg/peer
// checks its encoder against these bytes).
func appPlaintext(t *testing.T, f contFrame) []byte {
	t.Helper()
	u64 := func(x uint64) []byte {
		return []byte{byte(x >> 56), byte(x >> 48), byte(x >> 40), byte(x >> 32), byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}
	}
	switch f.Type {
	case "start":
		id := []byte(f.Identity)
		b := append([]byte{1}, mustHex(f.Instance)...)
		b = append(b, u64(f.Base)...)
		b = append(b, byte(len(id)>>8), byte(len(id)))
		return append(b, id...)
	case "data":
		b := append([]byte{2}, u64(f.AppSeq)...)
		b = append(b, u64(f.Ack)...)
		b = append(b, byte(len(f.Kind)))
		return append(append(b, f.Kind...), f.Body...)
	case "ack":
		return append([]byte{3}, u64(f.AppSeq)...)
	}
	t.Fatalf("frame type %q", f.Type)
	return nil
}

func TestContinuityVectors(t *testing.T) {
	got := continuityFile{Description: "vtpeer seal v2 (continuity) known-answer vectors, docs/PROTOCOL.md " +
		"\"Continuity (hello version 2)\" and \"Application frames\". Hex for binary values; messages are the exact " +
		"text on the wire. \"first\" is a version 1 session; each of \"sessions\" is a later handshake between the " +
		"same peers whose retained secrets name the first session's continuity secret. \"frames\" are sealed with " +
		"the keys of the session named by \"framesOf\" (seal seq per direction), each with its application plaintext. " +
		"Regenerate: go test ./pkg/seal -run TestContinuityVectors -update-continuity"}
	sessions := map[string][2]*Session{}
	var so, sa *Session
	got.First, so, sa = computeContSession(t, contFirst)
	sessions[got.First.Name] = [2]*Session{so, sa}
	if got.First.Version != VersionFirst || got.First.Continued != "" {
		t.Fatal("the first session is not a version 1 session")
	}
	for _, in := range contInputs {
		for _, list := range []*[]string{&in.OffererRetained, &in.AnswererRetained} {
			l := append([]string(nil), *list...)
			for i, s := range l {
				if s == "first" {
					l[i] = got.First.ContinuitySecret
				}
			}
			*list = l
		}
		v, so, sa := computeContSession(t, in)
		sessions[v.Name] = [2]*Session{so, sa}
		got.Sessions = append(got.Sessions, v)
	}
	if s := got.Sessions[0]; s.Continued != got.First.ContinuityID || s.Version != Version {
		t.Fatalf("the continued vector continues %q, not the first session's id %s", s.Continued, got.First.ContinuityID)
	}
	if s := got.Sessions[1]; s.Continued != "" || s.Version != Version {
		t.Fatal("the second vector continued")
	}
	abort, err := Abort{Code: "continuity_failed"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got.Abort = contAbort{Code: "continuity_failed", Message: string(abort)}
	got.FramesOf = got.Sessions[0].Name
	ss := sessions[got.FramesOf]
	for _, f := range contFrameInputs {
		pt := appPlaintext(t, f)
		send, recv := ss[0], ss[1]
		if f.Direction == "answererToOfferer" {
			send, recv = ss[1], ss[0]
		}
		if send.send.seq != f.Seq {
			t.Fatalf("frame inputs out of order: %s seq %d", f.Direction, f.Seq)
		}
		sealed, err := send.Seal(pt)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := recv.Open(sealed); err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("frame does not open: %v", err)
		}
		f.Plaintext, f.Frame = hex.EncodeToString(pt), hex.EncodeToString(sealed)
		got.Frames = append(got.Frames, f)
	}
	for _, c := range []struct {
		sender string
		tag    string
	}{{"offerer", got.Sessions[1].CloseTagOfferer}, {"answerer", got.Sessions[1].CloseTagAnswerer}} {
		gen := got.Sessions[1].CloseGen // the server relay session
		// The relay frame's data as pkg/peer writes it: {"gen":N,"t":"close","b":b64u(tag)}.
		got.Relay = append(got.Relay, contRelayClose{Sender: c.sender, Gen: gen,
			Data: fmt.Sprintf(`{"gen":%d,"t":"close","b":"%s"}`, gen, encodeB64(mustHex(c.tag)))})
	}

	if *updateContinuity {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(continuityVectorsPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(continuityVectorsPath)
	if err != nil {
		t.Fatalf("%v (run with -update-continuity to create)", err)
	}
	var want continuityFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, got) {
		w, _ := json.MarshalIndent(want, "", " ")
		g, _ := json.MarshalIndent(got, "", " ")
		t.Errorf("continuity vectors differ\nwant %s\ngot  %s", w, g)
	}
}
