package signal

import (
	"bytes"
	"testing"
)

func TestScanRelay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		ok       bool // scanRelay takes the frame; otherwise DecodeFrame decides
		want     string
	}{
		{"browser ice", `{"type":"ice","room":"r","data":{"candidate":"c1"}}`, true,
			`{"type":"ice","room":"r","from":"me","data":{"candidate":"c1"}}`},
		{"data spacing kept", ` { "data" : { "sdp" : "v=0\r\n<a&b>" ,"n":1.50} , "room":"r" ,"type":"offer"} `, true,
			`{"type":"offer","room":"r","from":"me","data":{ "sdp" : "v=0\r\n<a&b>" ,"n":1.50}}`},
		{"directed", `{"type":"ice","room":"r","to":"peer-0001","data":1}`, true,
			`{"type":"ice","room":"r","to":"peer-0001","from":"me","data":1}`},
		{"no data", `{"type":"bye","room":"r"}`, true, `{"type":"bye","room":"r","from":"me"}`},
		{"null data", `{"type":"bye","room":"r","data":null}`, true, `{"type":"bye","room":"r","from":"me","data":null}`},
		{"unknown field ignored", `{"type":"ice","room":"r","x":{"type":"join"},"data":2}`, true,
			`{"type":"ice","room":"r","from":"me","data":2}`},
		{"unicode room", `{"type":"ice","room":"салон","data":2}`, true, `{"type":"ice","room":"салон","from":"me","data":2}`},
		{"no room", `{"type":"ice","data":2}`, true, `{"type":"ice","room":"","from":"me","data":2}`},
		{"client from", `{"type":"ice","room":"r","from":"forged","data":2}`, false, ""},
		{"case variant", `{"type":"ice","Room":"r","data":2}`, false, ""},
		{"escaped key", `{"type":"ice","r\u006fom":"r","data":2}`, false, ""},
		{"escaped value", `{"type":"ice","room":"r\u0031","data":2}`, false, ""},
		{"duplicate", `{"type":"ice","room":"a","room":"b"}`, false, ""},
		{"null room", `{"type":"ice","room":null}`, false, ""},
		{"number type", `{"type":1,"room":"r"}`, false, ""},
		{"join", `{"type":"join","room":"r"}`, false, ""},
		{"server type", `{"type":"peer-left","room":"r"}`, false, ""},
		{"empty type", `{"type":"","room":"r"}`, false, ""},
		{"version", `{"type":"ice","room":"r","v":-1}`, false, ""},
		{"invalid", `{"type":"ice",`, false, ""},
		{"trailing", `{"type":"ice","room":"r"} x`, false, ""},
		{"array", `[{"type":"ice"}]`, false, ""},
		{"bad utf-8", "{\"type\":\"ice\",\"room\":\"\xff\"}", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, ok := scanRelay([]byte(tc.in))
			if ok != tc.ok {
				t.Fatalf("scanRelay ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if got := string(w.appendRelay(nil, "me")); got != tc.want {
				t.Fatalf("relayed as %s, want %s", got, tc.want)
			}
		})
	}
}

// FuzzScanRelay checks that whenever the cheap path takes a frame it reads
// exactly what DecodeFrame reads, and writes what encodeFrame would.
func FuzzScanRelay(f *testing.F) {
	for _, s := range []string{
		`{"type":"offer","room":"r","to":"p","data":{"sdp":"v=0\r\n"}}`,
		`{"type":"ice","room":"r","data":[1, 2 ,"<>"],"extra":{"a":"}"}}`,
		`{"type":"ice","ROOM":"r"}`, `{"type":"ice","room":"r","data":null}`,
		`{"type":"x","room":"\u00e9","to":""}`, `{"type":"ice","room":"a","room":"b"}`,
		`{"type":"ice","fr\u006fm":"x"}`, `{"type":"join","room":"r"}`, `{"type":`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, ok := scanRelay(b)
		if !ok {
			return
		}
		fr, err := DecodeFrame(b)
		if err != nil {
			t.Fatalf("scanRelay took %q, DecodeFrame refuses it: %v", b, err)
		}
		if fr.Type != string(w.typ) || fr.Room != string(w.room) || fr.To != string(w.to) ||
			!bytes.Equal(fr.Data, w.data) || fr.V != 0 || !relayedType(w.typ) {
			t.Fatalf("%q: scanRelay read %q %q %q %q, DecodeFrame %+v", b, w.typ, w.room, w.to, w.data, fr)
		}
		const from = "abcdefgh1234"
		out := w.appendRelay(nil, from)
		if len(out) != w.relaySize(from) {
			t.Fatalf("relaySize %d, wrote %d bytes", w.relaySize(from), len(out))
		}
		got, err := DecodeFrame(out)
		if err != nil {
			t.Fatalf("relayed %q does not decode: %v", out, err)
		}
		want, err := encodeFrame(Frame{Type: fr.Type, Room: fr.Room, To: fr.To, From: from, Data: fr.Data})
		if err != nil {
			t.Fatal(err)
		}
		exp, _ := DecodeFrame(want)
		if got.Type != exp.Type || got.Room != exp.Room || got.To != exp.To || got.From != from ||
			!bytes.Equal(got.Data, exp.Data) || !bytes.Contains(out, w.data) {
			t.Fatalf("relayed %q, encodeFrame %q", out, want)
		}
	})
}
