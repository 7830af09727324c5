package peer

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// TestContinuityVectorFrames checks this package's application frame and relay close encoders
// against testdata/seal/continuity.json (pkg/seal checks the sealing of the same plaintexts and
// docs/PROTOCOL.md's layouts; testdata/seal/check_vectors.py checks both independently).
func TestContinuityVectorFrames(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../testdata/seal/continuity.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Frames []struct {
			Type      string `json:"type"`
			Instance  string `json:"instance"`
			Base      uint64 `json:"base"`
			Identity  string `json:"identity"`
			AppSeq    uint64 `json:"appSeq"`
			Ack       uint64 `json:"ack"`
			Kind      string `json:"kind"`
			Body      string `json:"body"`
			Plaintext string `json:"plaintext"`
		} `json:"frames"`
		Sessions []struct {
			CloseTagOfferer  string `json:"closeTagOfferer"`
			CloseTagAnswerer string `json:"closeTagAnswerer"`
		} `json:"sessions"`
		RelayClose []struct {
			Sender string `json:"sender"`
			Gen    uint64 `json:"gen"`
			Data   string `json:"data"`
		} `json:"relayClose"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Frames) == 0 || len(file.RelayClose) != 2 || len(file.Sessions) < 2 {
		t.Fatal("continuity.json lacks frames or relay closes")
	}
	for i, f := range file.Frames {
		want, err := hex.DecodeString(f.Plaintext)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		switch f.Type {
		case "start":
			inst, err := hex.DecodeString(f.Instance)
			if err != nil || len(inst) != 8 {
				t.Fatalf("frame %d: instance %q", i, f.Instance)
			}
			got = encodeStart(beUint64(inst), f.Base, []byte(f.Identity))
		case "data":
			got = encodeData(f.AppSeq, f.Kind, []byte(f.Body))
			setDataAck(got, f.Ack)
		case "ack":
			got = encodeAck(f.AppSeq)
		default:
			t.Fatalf("frame %d: type %q", i, f.Type)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("frame %d (%s): encoded %x, vector %x", i, f.Type, got, want)
		}
		d, err := decodeFrame(want)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if d.kind != f.Kind || string(d.body) != f.Body || d.base != f.Base || d.ack != f.Ack ||
			(f.Type != "start" && d.seq != f.AppSeq) {
			t.Errorf("frame %d decodes as %+v", i, d)
		}
	}
	tags := map[string]string{"offerer": file.Sessions[1].CloseTagOfferer, "answerer": file.Sessions[1].CloseTagAnswerer}
	for _, c := range file.RelayClose {
		tag, err := hex.DecodeString(tags[c.Sender])
		if err != nil || len(tag) != closeTagSize {
			t.Fatalf("close tag of the %s: %q", c.Sender, tags[c.Sender])
		}
		data, err := encodeRelayData(c.Gen, relayClose, tag)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != c.Data {
			t.Errorf("relay close of the %s: encoded %s, vector %s", c.Sender, data, c.Data)
		}
		d, err := decodeRelayData([]byte(c.Data))
		if err != nil || d.Gen != c.Gen || d.T != relayClose || !bytes.Equal(d.body, tag) {
			t.Errorf("relay close of the %s decodes as %+v, %v", c.Sender, d, err)
		}
	}
}

func beUint64(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}
