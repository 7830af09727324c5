package seal

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzParseHello(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","v":1,"role":"offerer","commit":"eY5lkJKPiAviDw32SodEn7q3IR2wGXTVIX2zQL6bYjM","fp":"oB4AlZyz8rF6pCzAWrJ0DiAQTxQpZeZ4OBR5obE6i3Q"}`,
		`{"type":"hello","v":1,"role":"answerer","key":"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"}`,
		`{"type":"hello","v":1.0,"role":"answerer","key":"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"}`,
		`{"type":"hello","v":1,"v":1}`, `{}`, `[]`, `null`, ``,
		`{"type":"hello","v":2,"role":"offerer","commit":"eY5lkJKPiAviDw32SodEn7q3IR2wGXTVIX2zQL6bYjM","rs1":"CQkJCQkJCQkJCQkJCQkJCQ","rs2":"CQkJCQkJCQkJCQkJCQkJCQ"}`,
		`{"type":"hello","v":2,"role":"answerer","key":"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08","rs":"CQkJCQkJCQkJCQkJCQkJCQ"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHello(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		// Whatever parses re-encodes and parses to the same value.
		out, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		h2, err := ParseHello(out)
		if err != nil || h2.Version != h.Version || h2.Role != h.Role || !bytes.Equal(h2.Key, h.Key) ||
			!bytes.Equal(h2.Commit, h.Commit) || !bytes.Equal(h2.Fingerprint, h.Fingerprint) ||
			!bytes.Equal(h2.Continue, h.Continue) || len(h2.Retained) != len(h.Retained) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range h.Retained {
			if !bytes.Equal(h2.Retained[i], h.Retained[i]) {
				t.Fatal("round trip: retained ids differ")
			}
		}
	})
}

func FuzzParseAbort(f *testing.F) {
	for _, s := range []string{`{"type":"abort","code":"continuity_failed"}`, `{"type":"abort","code":"X"}`,
		`{"type":"abort","code":""}`, `{"type":"abort"}`, `{"type":"abort","code":"a","code":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAbort(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		out, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if a2, err := ParseAbort(out); err != nil || a2 != a {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseReveal(f *testing.F) {
	f.Add([]byte(`{"type":"reveal","key":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`))
	f.Add([]byte(`{"type":"reveal","key":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReveal(b)
		if err == nil && len(r.Key) != KeySize {
			t.Fatal("accepted a bad key")
		}
	})
}

func FuzzParseIdentity(f *testing.F) {
	sig := "0x" + string(bytes.Repeat([]byte("ab"), 65))
	for _, s := range []string{
		`{"type":"identity","address":"0x71C7656EC7ab88b098defB751B7401B5f6d8976F","signature":"` + sig + `"}`,
		`{"type":"identity","address":"0x71c7656ec7ab88b098defb751b7401b5f6d8976f","signature":"` + sig + `","staticKey":"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"}`,
		`{"type":"identity","address":"0x71C7","signature":"0x"}`,
		`{"type":"identity","address":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseIdentity(b)
		if err != nil {
			return
		}
		out, err := id.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		id2, err := ParseIdentity(out)
		if err != nil || id2.Address != id.Address || id2.Signature != id.Signature || !bytes.Equal(id2.StaticKey, id.StaticKey) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzOpen feeds arbitrary frames to a fresh session. Only the genuine
// first frame may open; everything else fails with ErrAuth and no output.
func FuzzOpen(f *testing.F) {
	so, _ := fuzzPair(f)
	genuine, _ := so.Seal([]byte("hello"))
	f.Add(genuine)
	f.Add(genuine[:len(genuine)-1])
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})
	_, sa := fuzzPair(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		sa.recv.mu.Lock()
		sa.recv.seq, sa.recv.failed = 0, false // a fresh receiver for each input
		sa.recv.mu.Unlock()
		pt, err := sa.Open(frame)
		if bytes.Equal(frame, genuine) {
			if err != nil || string(pt) != "hello" {
				t.Fatalf("genuine frame: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrAuth) || pt != nil {
			t.Fatalf("forged frame opened: %q, %v", pt, err)
		}
	})
}

// fuzzPair is a deterministic pair, identical on every call.
func fuzzPair(t testing.TB) (*Session, *Session) {
	t.Helper()
	co, ca := configs("fuzz")
	co.Rand, ca.Rand = fixedRand(1), fixedRand(2)
	o, err := NewHandshake(co)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewHandshake(ca)
	if err != nil {
		t.Fatal(err)
	}
	so, sa, err := run(o, a)
	if err != nil {
		t.Fatal(err)
	}
	return so, sa
}
