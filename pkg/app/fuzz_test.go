package app

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeChat: any body decodes or returns an error, never panics; what
// decodes is UTF-8 and survives a round trip.
func FuzzDecodeChat(f *testing.F) {
	for _, s := range []string{`{"text":"hi"}`, `{"id":"abc","text":"☕"}`, `{"text":1}`, `[]`, `{"text":"\ud800"}`, "{\"text\":\"\xff\"}", ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := DecodeChat(body)
		if err != nil {
			return
		}
		if !utf8.ValidString(c.Text) || !utf8.ValidString(c.ID) {
			t.Fatalf("decoded non-UTF-8: %q", c.Text)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := DecodeChat(b)
		if err != nil || c2 != c {
			t.Fatalf("round trip: %+v → %+v (%v)", c, c2, err)
		}
	})
}

// FuzzDecodeReceipt: any body decodes or returns an error, never panics;
// a receipt reported as signed verified.
func FuzzDecodeReceipt(f *testing.F) {
	for _, s := range []string{
		`{"messageHash":"0x0000000000000000000000000000000000000000000000000000000000000000","accepted":true}`,
		`{"messageHash":"0x12","accepted":false,"code":"replay"}`,
		`{"messageHash":"0x0000000000000000000000000000000000000000000000000000000000000000","accepted":true,"signer":"0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58","signature":"0x00"}`,
		`null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeReceipt("peer", body)
		if err != nil {
			return
		}
		if r.Signer != "" && !r.SignerValid {
			t.Fatalf("signer %s reported without a valid signature", r.Signer)
		}
	})
}

// FuzzDecodeFileOffer: any manifest decodes or returns an error, never
// panics; what decodes has only safe, unique paths and its own id.
func FuzzDecodeFileOffer(f *testing.F) {
	sum := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	for _, files := range [][]FileEntry{
		{{Path: "a.txt", Size: 5, SHA256: sum}},
		{{Path: "d/b", Size: 1 << 20, SHA256: sum}, {Path: "d/c", SHA256: sum}},
		{{Path: "../x", SHA256: sum}},
		{{Path: "CON", SHA256: sum}},
	} {
		b, _ := json.Marshal(FileOffer{ID: TransferID("", files), Files: files})
		f.Add(b)
	}
	f.Add([]byte(`{"id":"00","files":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := DecodeFileOffer("", body)
		if err != nil {
			return
		}
		if o.ID != TransferID("", o.Files) {
			t.Fatal("decoded with a foreign id")
		}
		for _, e := range o.Files {
			if CheckPath(e.Path) != nil || e.Size < 0 || e.Size > MaxFileSize {
				t.Fatalf("decoded an unsafe entry %+v", e)
			}
		}
	})
}

// FuzzDecodeChunk: any record decodes or returns an error, never panics;
// a record that opens under the key is the one that was sealed.
func FuzzDecodeChunk(f *testing.F) {
	cc, _ := newChunkCipher(make([]byte, 32))
	id := make([]byte, IDSize)
	f.Add(encodeChunk(nil, cc, id, 0, 0, []byte("data")))
	f.Add(encodeChunk(nil, nil, id, 1, 2, []byte("plain")))
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, rec []byte) {
		for _, c := range []*chunkCipher{cc, nil} {
			r, err := DecodeChunk(c, append([]byte(nil), rec...))
			if err != nil {
				continue
			}
			if c != nil {
				again := encodeChunk(nil, cc, r.ID, r.File, r.Chunk, r.Data)
				if string(again) != string(rec) {
					t.Fatal("opened a record that is not the sealing of its plaintext")
				}
			}
		}
	})
}
