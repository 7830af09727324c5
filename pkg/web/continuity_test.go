package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/verytippers/vtpeer/internal/browsertest"
	"github.com/verytippers/vtpeer/pkg/seal"
)

// TestNodeContinuity drives both implementations of seal continuity: pkg/seal runs a first
// session and two later handshakes between the same peers (one continuing a retained secret over
// DTLS, one continuing none over the relay) from fixed keys, writes what it produced (hellos,
// reveal, TH, SAS, next secret and its id, close tags, sealed frames), and the page's seal.js must
// produce exactly the same from the same inputs (jstest/continuity.test.mjs). The same Node test
// also runs on testdata/seal/continuity.json when that file is present.
func TestNodeContinuity(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if browsertest.InCI() {
			t.Fatal("node is not installed (CI)")
		}
		t.Skip("node not found: skipping the page's continuity test")
	}
	b, err := json.MarshalIndent(continuityVectors(t), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "continuity.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--test", "jstest/continuity.test.mjs")
	cmd.Env = append(os.Environ(), "NODE_OPTIONS=", "VTPEER_CONTINUITY_VECTORS="+path)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("# fail 0")) || bytes.Contains(out, []byte("# skipped 1")) {
		t.Fatalf("node --test jstest/continuity.test.mjs: %v\n%s", err, out)
	}
}

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
	Version             int      `json:"version"`
	OffererRetainedIDs  []string `json:"offererRetainedIds"`
	AnswererRetainedIDs []string `json:"answererRetainedIds"`
	OffererHello        string   `json:"offererHello"`
	AnswererHello       string   `json:"answererHello"`
	Reveal              string   `json:"reveal"`
	ContinuedID         string   `json:"continuedId"`
	TranscriptHash      string   `json:"transcriptHash"`
	SAS                 string   `json:"sas"`
	ContinuitySecret    string   `json:"continuitySecret"`
	ContinuityID        string   `json:"continuityId"`
	CloseTagOfferer     string   `json:"closeTagOfferer"`
	CloseTagAnswerer    string   `json:"closeTagAnswerer"`

	so, sa *seal.Session
}

type contFrame struct {
	Direction string `json:"direction"`
	Seq       int    `json:"seq"`
	Plaintext string `json:"plaintext"`
	Frame     string `json:"frame"`
}

type contRelayClose struct {
	Sender string `json:"sender"`
	Gen    uint64 `json:"gen"`
	Data   string `json:"data"`
}

func fill(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func hexes(bs [][]byte, f func([]byte) []byte) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, hex.EncodeToString(f(b)))
	}
	return out
}

// runContinuity runs one handshake with pkg/seal and records it in the vectors' form.
func runContinuity(t *testing.T, v *contSession, offRet, ansRet [][]byte, fpO, fpA []byte) {
	t.Helper()
	op, ap := fill(0x11, 32), fill(0x22, 32)
	op[0], ap[0] = byte(v.CloseGen), byte(v.CloseGen>>8)
	cfg := func(role seal.Role, priv, local, remote []byte, ret [][]byte) seal.Config {
		return seal.Config{Room: v.Room, Role: role, LocalFingerprint: local, RemoteFingerprint: remote,
			NoChannelBinding: v.NoChannelBinding, Retained: ret, Rand: bytes.NewReader(priv)}
	}
	o, err := seal.NewHandshake(cfg(seal.RoleOfferer, op, fpO, fpA, offRet))
	if err != nil {
		t.Fatal(err)
	}
	a, err := seal.NewHandshake(cfg(seal.RoleAnswerer, ap, fpA, fpO, ansRet))
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := o.Start()
	if _, err := a.Start(); err != nil {
		t.Fatal(err)
	}
	h2, _, err := a.Handle(h1)
	if err != nil {
		t.Fatal(err)
	}
	rv, so, err := o.Handle(h2)
	if err != nil {
		t.Fatal(err)
	}
	_, sa, err := a.Handle(rv)
	if err != nil {
		t.Fatal(err)
	}
	id := func(b []byte) []byte { return seal.ContinuityID(b) }
	same := func(b []byte) []byte { return b }
	v.OffererPrivate, v.AnswererPrivate = hex.EncodeToString(op), hex.EncodeToString(ap)
	v.OffererFingerprint, v.AnswererFingerprint = hex.EncodeToString(fpO), hex.EncodeToString(fpA)
	v.OffererRetained, v.AnswererRetained = hexes(offRet, same), hexes(ansRet, same)
	v.OffererRetainedIDs, v.AnswererRetainedIDs = hexes(offRet, id), hexes(ansRet, id)
	v.OffererHello, v.AnswererHello, v.Reveal = string(h1), string(h2), string(rv)
	v.Version = so.Version()
	if i := so.ContinuityIndex(); i >= 0 {
		v.ContinuedID = hex.EncodeToString(seal.ContinuityID(offRet[i]))
	}
	v.TranscriptHash, v.SAS = hex.EncodeToString(so.TranscriptHash()), so.SAS()
	v.ContinuitySecret = hex.EncodeToString(so.ContinuitySecret())
	v.ContinuityID = hex.EncodeToString(seal.ContinuityID(so.ContinuitySecret()))
	v.CloseTagOfferer, v.CloseTagAnswerer = hex.EncodeToString(so.CloseTag(v.CloseGen)), hex.EncodeToString(sa.CloseTag(v.CloseGen))
	if so.SAS() != sa.SAS() || !bytes.Equal(so.ContinuitySecret(), sa.ContinuitySecret()) {
		t.Fatalf("%s: the two sides disagree", v.Name)
	}
	v.so, v.sa = so, sa
}

// continuityVectors produces the vectors file jstest/continuity.test.mjs reads.
func continuityVectors(t *testing.T) map[string]any {
	first := &contSession{Name: "first session (version 1, server relay)", Room: "lobby", NoChannelBinding: true, CloseGen: 1764201600000000001}
	runContinuity(t, first, nil, nil, nil, nil)
	cs := first.so.ContinuitySecret()
	cont := &contSession{Name: "continued (direct path, the answerer holds rs2)", Room: "lobby", CloseGen: 1764201600000000002}
	runContinuity(t, cont, [][]byte{fill(0x33, 32), cs}, [][]byte{cs}, fill(0xa1, 32), fill(0xb2, 32))
	if cont.ContinuedID == "" || cont.Version != 2 || cont.SAS == first.SAS {
		t.Fatalf("continued session: %+v", cont)
	}
	fresh := &contSession{Name: "not continued (server relay, no secret in common)", Room: "lobby 🎉", NoChannelBinding: true, CloseGen: 1764201600000000003}
	runContinuity(t, fresh, [][]byte{fill(0x44, 32)}, [][]byte{fill(0x55, 32)}, nil, nil)

	start := func(inst uint64, base uint64) []byte {
		b := make([]byte, 19)
		b[0] = 1
		binary.BigEndian.PutUint64(b[1:], inst)
		binary.BigEndian.PutUint64(b[9:], base)
		return b
	}
	data := []byte("\x02\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x04chat{\"text\":\"still you?\"}")
	var frames []contFrame
	seqs := map[string]int{}
	for _, f := range []struct {
		off bool
		pt  []byte
	}{{true, start(0x0102030405060708, 7)}, {false, start(0xf0e0d0c0b0a09080, 1)}, {true, data}} {
		s, dir := cont.so, "offererToAnswerer"
		if !f.off {
			s, dir = cont.sa, "answererToOfferer"
		}
		sealed, err := s.Seal(f.pt)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, contFrame{Direction: dir, Seq: seqs[dir], Plaintext: hex.EncodeToString(f.pt), Frame: hex.EncodeToString(sealed)})
		seqs[dir]++
	}
	abort, err := seal.Abort{Code: "continuity_failed"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var closes []contRelayClose
	for role, s := range map[string]*seal.Session{"offerer": fresh.so, "answerer": fresh.sa} {
		closes = append(closes, contRelayClose{Sender: role, Gen: fresh.CloseGen,
			Data: fmt.Sprintf(`{"gen":%d,"t":"close","b":"%s"}`, fresh.CloseGen, base64.RawURLEncoding.EncodeToString(s.CloseTag(fresh.CloseGen)))})
	}
	return map[string]any{
		"first": first, "sessions": []*contSession{cont, fresh}, "framesOf": cont.Name, "frames": frames,
		"abort": map[string]string{"code": "continuity_failed", "message": string(abort)}, "relayClose": closes,
	}
}
