package peer

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"testing"
)

// TestAppFrameVectors: the application frames in testdata/seal/vectors.json (written from the
// layout in docs/PROTOCOL.md) are byte for byte what this package sends and parses.
func TestAppFrameVectors(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../testdata/seal/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	type fv struct {
		Type     string
		Instance string
		Base     uint64
		Identity string
		Seq, Ack uint64
		Kind     string
		Body     string
	}
	var file struct {
		Vectors []struct {
			Name      string
			AppFrames map[string]fv `json:"appFrames"`
			OA0       string        `json:"plaintextOffererToAnswerer0Hex"`
			OA1       string        `json:"plaintextOffererToAnswerer1Hex"`
			AO0       string        `json:"plaintextAnswererToOfferer0Hex"`
		}
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range file.Vectors {
		if v.AppFrames == nil {
			continue
		}
		for key, want := range map[string]string{"offererToAnswerer0": v.OA0, "offererToAnswerer1": v.OA1, "answererToOfferer0": v.AO0} {
			f, ok := v.AppFrames[key]
			if !ok {
				t.Fatalf("%s: no %s", v.Name, key)
			}
			var got []byte
			switch f.Type {
			case "start":
				inst, err := strconv.ParseUint(f.Instance, 16, 64)
				if err != nil {
					t.Fatal(err)
				}
				got = encodeStart(inst, f.Base, []byte(f.Identity))
			case "data":
				got = encodeData(f.Seq, f.Kind, []byte(f.Body))
				setDataAck(got, f.Ack)
			case "ack":
				got = encodeAck(f.Seq)
			}
			if hex.EncodeToString(got) != want {
				t.Errorf("%s %s: we encode %x, the vector has %s", v.Name, key, got, want)
			}
			raw, _ := hex.DecodeString(want)
			d, err := decodeFrame(raw)
			if err != nil || (f.Type == "data" && (d.seq != f.Seq || d.ack != f.Ack || d.kind != f.Kind || !bytes.Equal(d.body, []byte(f.Body)))) ||
				(f.Type == "start" && d.base != f.Base) {
				t.Errorf("%s %s: decoded %+v, %v", v.Name, key, d, err)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no application frame vectors")
	}
}
