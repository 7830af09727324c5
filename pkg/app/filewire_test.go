package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"a.txt", true},
		{"dir/sub/b.bin", true},
		{"ünïcode/☕.txt", true},
		{"com10.txt", true},
		{"", false},
		{"/etc/passwd", false},
		{"../x", false},
		{"a/../../x", false},
		{"a/./b", false},
		{"a//b", false},
		{"a/", false},
		{`a\b`, false},
		{"C:x", false},
		{"c:/windows", false},
		{"file.txt:stream", false},
		{"CON", false},
		{"con.txt", false},
		{"dir/Nul.tar.gz", false},
		{"LPT1", false},
		{"com9.log", false},
		{"COM¹", false},
		{"trailing.", false},
		{"trailing ", false},
		{"tab\there", false},
		{"nl\n", false},
		{"\xff", false},
		{strings.Repeat("a", MaxPathLen+1), false},
	} {
		err := CheckPath(tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok=%v", tc.path, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrUnsafePath) {
			t.Errorf("%q: %v is not ErrUnsafePath", tc.path, err)
		}
	}
}

const zeroSum = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func offerBody(t testing.TB, sender string, files []FileEntry) []byte {
	b, err := json.Marshal(FileOffer{ID: TransferID(sender, files), Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeFileOffer(t *testing.T) {
	t.Parallel()
	f := func(p string) FileEntry { return FileEntry{Path: p, SHA256: zeroSum} }
	for _, tc := range []struct {
		name  string
		files []FileEntry
		want  error
	}{
		{"ok", []FileEntry{f("a"), f("d/b")}, nil},
		{"none", nil, ErrBadTransfer},
		{"traversal", []FileEntry{f("../a")}, ErrUnsafePath},
		{"twice", []FileEntry{f("a"), f("A")}, ErrUnsafePath},
		{"file and directory", []FileEntry{f("a"), f("a/b")}, ErrUnsafePath},
		{"part name", []FileEntry{f("a"), f("a.part")}, ErrUnsafePath},
		{"negative", []FileEntry{{Path: "a", Size: -1, SHA256: zeroSum}}, ErrBadTransfer},
		{"huge", []FileEntry{{Path: "a", Size: MaxFileSize + 1, SHA256: zeroSum}}, ErrBadTransfer},
		{"bad hash", []FileEntry{{Path: "a", SHA256: "00"}}, ErrBadTransfer},
		{"upper-case hash", []FileEntry{{Path: "a", SHA256: strings.ToUpper(zeroSum)}}, ErrBadTransfer},
	} {
		_, err := DecodeFileOffer("0xAbC", offerBody(t, "0xabc", tc.files))
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	// The id binds the sender: another account's offer of the same files does not decode as ours.
	if _, err := DecodeFileOffer("0xdef", offerBody(t, "0xabc", []FileEntry{f("a")})); !errors.Is(err, ErrBadTransfer) {
		t.Errorf("id of another sender: %v", err)
	}
}

func TestChunkRecord(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	cc, err := newChunkCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newChunkCipher(bytes.Repeat([]byte{8}, 32))
	id := bytes.Repeat([]byte{1}, IDSize)
	data := []byte("chunk data")
	rec := encodeChunk(nil, cc, id, 3, 9, data)
	c, err := DecodeChunk(cc, append([]byte(nil), rec...))
	if err != nil || c.File != 3 || c.Chunk != 9 || !bytes.Equal(c.Data, data) || !bytes.Equal(c.ID, id) {
		t.Fatalf("round trip: %+v %v", c, err)
	}
	bad := func(name string, cc *chunkCipher, rec []byte) {
		if _, err := DecodeChunk(cc, rec); !errors.Is(err, ErrBadChunk) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	for i := range rec { // every flipped byte: header (indices bound in) or ciphertext
		r := append([]byte(nil), rec...)
		r[i] ^= 1
		bad("flip", cc, r)
	}
	bad("other key", other, append([]byte(nil), rec...))
	bad("truncated", cc, rec[:ChunkHeaderSize+3])
	bad("plain on a channel", cc, encodeChunk(nil, nil, id, 0, 0, data))
	bad("sealed on the session", nil, append([]byte(nil), rec...))
	plain := encodeChunk(nil, nil, id, 1, 2, data)
	if c, err := DecodeChunk(nil, plain); err != nil || !bytes.Equal(c.Data, data) || c.Chunk != 2 {
		t.Fatalf("session record: %+v %v", c, err)
	}
}
