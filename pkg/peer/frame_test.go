package peer

import (
	"bytes"
	"errors"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    []byte
		want appFrame
	}{
		{"start anon", encodeStart(7, 1, nil), appFrame{typ: frameStart, instance: 7, base: 1}},
		{"start identity", encodeStart(7, 9, []byte("id")), appFrame{typ: frameStart, instance: 7, base: 9, identity: []byte("id")}},
		{"data", withAck(encodeData(3, "chat", []byte("hi")), 2), appFrame{typ: frameData, seq: 3, ack: 2, kind: "chat", body: []byte("hi")}},
		{"ack", encodeAck(5), appFrame{typ: frameAck, seq: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := decodeFrame(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if f.typ != tc.want.typ || f.instance != tc.want.instance || f.base != tc.want.base || f.seq != tc.want.seq || f.ack != tc.want.ack ||
				f.kind != tc.want.kind || !bytes.Equal(f.body, tc.want.body) || !bytes.Equal(f.identity, tc.want.identity) {
				t.Fatalf("got %+v want %+v", f, tc.want)
			}
		})
	}
}

func TestFrameRejects(t *testing.T) {
	t.Parallel()
	for _, b := range [][]byte{nil, {0}, {9}, {frameAck, 1}, encodeStart(1, 0, nil), encodeData(0, "k", nil),
		append(encodeStart(1, 1, nil), 'x'), {frameData, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 5, 'a'}} {
		if _, err := decodeFrame(b); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%x: got %v", b, err)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(encodeStart(7, 1, []byte(`{"type":"identity"}`)))
	f.Add(encodeData(3, "chat", []byte("hi")))
	f.Add(encodeAck(5))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err != nil {
			return
		}
		var again []byte
		switch fr.typ {
		case frameStart:
			again = encodeStart(fr.instance, fr.base, fr.identity)
		case frameData:
			again = withAck(encodeData(fr.seq, fr.kind, fr.body), fr.ack)
		case frameAck:
			again = encodeAck(fr.seq)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %x gave %x", b, again)
		}
	})
}

func withAck(b []byte, ack uint64) []byte { setDataAck(b, ack); return b }
