package signal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEncodeFrame(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		f    Frame
		want string
	}{
		{"joined has empty lists", Frame{Type: TypeJoined, V: 1, Room: "r", PeerID: "p"},
			`{"type":"joined","v":1,"room":"r","peerId":"p","peers":[],"iceServers":[]}`},
		{"relay keeps data bytes", Frame{Type: "offer", From: "a", Data: []byte(`{ "x" : "<&>" }`)},
			`{"type":"offer","from":"a","data":{ "x" : "<&>" }}`},
		{"error", Frame{Type: TypeError, Code: CodeRoomRequired, Error: "room required"},
			`{"type":"error","code":"room_required","error":"room required"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := EncodeFrame(tc.f)
			if err != nil || string(b) != tc.want {
				t.Fatalf("got %s %v, want %s", b, err, tc.want)
			}
		})
	}
	if _, err := EncodeFrame(Frame{Type: "x", Data: []byte("{")}); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("invalid data: %v", err)
	}
}

func TestDecodeFrame(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"type":"join","room":"r"}`, true},
		{`{"type":"offer","room":"r","data":{"sdp":"v=0"},"extra":true}`, true},
		{`{"room":"r"}`, false},
		{`{"type":1}`, false},
		{`null`, false},
		{`{"type":"join","v":-3}`, false},
		{`{"type":"x"`, false},
	} {
		if _, err := DecodeFrame([]byte(tc.in)); (err == nil) != tc.ok {
			t.Errorf("DecodeFrame(%s) err = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

// FuzzDecodeFrame checks that decoding never panics and that a decoded
// frame re-encodes with its data byte-for-byte intact.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","room":"r","v":1,"peerId":"abcdefgh","resume":"x","token":"t"}`,
		`{"type":"offer","room":"r","to":"p","data":{"sdp":"v=0\r\n"}}`,
		`{"type":"ice","room":"r","data":[1, 2 ,"<>"]}`,
		`{"type":"joined","peers":[],"iceServers":[{"urls":["stun:x"]}]}`,
		`{"type":"error","code":"bad_frame","error":"x"}`,
		`{"type":`, `[]`, `"x"`, `{"type":"a","data":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		out, err := EncodeFrame(fr)
		if err != nil {
			t.Fatalf("re-encode %q: %v", b, err)
		}
		back, err := DecodeFrame(out)
		if err != nil {
			t.Fatalf("decode of encoded %q: %v", out, err)
		}
		if !bytes.Equal(bytes.TrimSpace(fr.Data), back.Data) || back.Type != fr.Type || back.Room != fr.Room {
			t.Fatalf("round trip changed frame: %q -> %q", b, out)
		}
	})
}

func TestValidPeerID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{
		"abcdefgh": true, strings.Repeat("a", 64): true, "A-b_9xyz": true,
		"short": false, strings.Repeat("a", 65): false, "has space": false, "ünicode1": false,
	} {
		if validPeerID(id) != ok {
			t.Errorf("validPeerID(%q) != %v", id, ok)
		}
	}
}
