package seal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// lowOrder lists X25519 public keys that yield an all-zero shared secret:
// the small-order points of Curve25519 and their non-canonical encodings
// (the list libsodium and the curve25519 literature reject).
var lowOrder = []string{
	"0000000000000000000000000000000000000000000000000000000000000000", // 0 (order 4 point's x is 0: order 2)
	"0100000000000000000000000000000000000000000000000000000000000000", // 1 (order 4)
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", // order 8
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p-1
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p (= 0)
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p+1 (= 1)
	"cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880", // non-canonical order 8
	"4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7", // non-canonical order 8
	"d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // 2p-1, high bit set
	"daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // 2p
	"dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // 2p+1
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func newPair(t *testing.T, co, ca Config) (*Handshake, *Handshake) {
	t.Helper()
	o, err := NewHandshake(co)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewHandshake(ca)
	if err != nil {
		t.Fatal(err)
	}
	return o, a
}

func TestLowOrderKeysRejected(t *testing.T) {
	t.Parallel()
	for _, k := range lowOrder {
		t.Run(k[:8]+"/answerer-key", func(t *testing.T) {
			t.Parallel()
			co, ca := configs("room")
			o, _ := newPair(t, co, ca)
			if _, err := o.Start(); err != nil {
				t.Fatal(err)
			}
			m, _ := Hello{Version: 1, Role: RoleAnswerer, Key: mustHex(k), Fingerprint: ca.LocalFingerprint}.Marshal()
			reply, s, err := o.Handle(m)
			if !errors.Is(err, ErrBadKey) || s != nil || reply != nil {
				t.Fatalf("got %v, session %v", err, s)
			}
		})
		t.Run(k[:8]+"/offerer-key", func(t *testing.T) {
			t.Parallel()
			co, ca := configs("room")
			_, a := newPair(t, co, ca)
			a.Start()
			m, _ := Hello{Version: 1, Role: RoleOfferer, Commit: Commitment(mustHex(k)), Fingerprint: co.LocalFingerprint}.Marshal()
			if _, _, err := a.Handle(m); err != nil {
				t.Fatal(err)
			}
			r, _ := Reveal{Key: mustHex(k)}.Marshal()
			_, s, err := a.Handle(r)
			if !errors.Is(err, ErrBadKey) || s != nil {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestHandshakeRejects(t *testing.T) {
	t.Parallel()
	// Each case tampers with one message of an honest run.
	type tamper struct {
		name  string
		step  int // 1: offerer hello, 2: answerer hello, 3: reveal
		edit  func(co, ca Config, m []byte) []byte
		err   error
		setup func(co, ca *Config)
	}
	otherKey := func() []byte {
		h, _ := NewHandshake(Config{Room: "x", Role: RoleOfferer, NoChannelBinding: true})
		return h.PublicKey()
	}()
	cases := []tamper{
		{name: "offerer fingerprint rewritten", step: 1, err: ErrFingerprintMismatch,
			edit: func(co, ca Config, m []byte) []byte {
				h, _ := ParseHello(m)
				h.Fingerprint = fp("mitm")
				b, _ := h.Marshal()
				return b
			}},
		{name: "answerer fingerprint rewritten", step: 2, err: ErrFingerprintMismatch,
			edit: func(co, ca Config, m []byte) []byte {
				h, _ := ParseHello(m)
				h.Fingerprint = fp("mitm")
				b, _ := h.Marshal()
				return b
			}},
		{name: "fingerprint stripped", step: 2, err: ErrFingerprintMismatch,
			edit: func(co, ca Config, m []byte) []byte {
				h, _ := ParseHello(m)
				h.Fingerprint = nil
				b, _ := h.Marshal()
				return b
			}},
		{name: "DTLS terminated by a third party", step: 0, err: ErrFingerprintMismatch,
			setup: func(co, ca *Config) { co.RemoteFingerprint = fp("mitm") }},
		{name: "wrong version", step: 2, err: ErrVersion,
			edit: func(co, ca Config, m []byte) []byte { return bytes.Replace(m, []byte(`"v":1`), []byte(`"v":2`), 1) }},
		{name: "offerer hello reflected", step: 1, err: ErrRole,
			setup: func(co, ca *Config) {
				ca.Role = RoleOfferer
				ca.LocalFingerprint, ca.RemoteFingerprint = co.LocalFingerprint, co.LocalFingerprint
			},
		},
		{name: "reveal of another key", step: 3, err: ErrCommitMismatch,
			edit: func(co, ca Config, m []byte) []byte { b, _ := Reveal{Key: otherKey}.Marshal(); return b }},
		{name: "reveal replaced by hello", step: 3, err: ErrMalformed,
			edit: func(co, ca Config, m []byte) []byte {
				b, _ := Hello{Version: 1, Role: RoleOfferer, Commit: make([]byte, 32), Fingerprint: co.LocalFingerprint}.Marshal()
				return b
			}},
		{name: "garbage", step: 1, err: ErrMalformed,
			edit: func(co, ca Config, m []byte) []byte { return []byte("{") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			co, ca := configs("room")
			if tc.setup != nil {
				tc.setup(&co, &ca)
			}
			o, err := NewHandshake(co)
			if err != nil {
				t.Fatal(err)
			}
			a, err := NewHandshake(ca)
			if err != nil {
				t.Fatal(err)
			}
			ed := func(step int, m []byte) []byte {
				if tc.step == step && tc.edit != nil {
					return tc.edit(co, ca, m)
				}
				return m
			}
			m1, _ := o.Start()
			a.Start()
			m2, _, err := a.Handle(ed(1, m1))
			if err == nil {
				var m3 []byte
				m3, _, err = o.Handle(ed(2, m2))
				if err == nil {
					_, _, err = a.Handle(ed(3, m3))
				}
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
		})
	}
}

func TestHandshakeState(t *testing.T) {
	t.Parallel()
	co, ca := configs("room")
	o, a := newPair(t, co, ca)
	if _, _, err := a.Handle([]byte("{}")); !errors.Is(err, ErrState) {
		t.Fatalf("Handle before Start: %v", err)
	}
	so, sa, err := run(o, a)
	if err != nil || so == nil || sa == nil {
		t.Fatal(err)
	}
	if _, err := o.Start(); !errors.Is(err, ErrState) {
		t.Fatal("second Start accepted")
	}
	if _, _, err := o.Handle([]byte("{}")); !errors.Is(err, ErrState) {
		t.Fatal("Handle after done accepted")
	}
	if o.sk != nil || a.sk != nil {
		t.Fatal("private key kept after the handshake")
	}
	// A failed handshake zeroes its key and refuses more input.
	o2, _ := newPair(t, co, ca)
	o2.Start()
	if _, _, err := o2.Handle([]byte("nope")); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	if o2.sk != nil {
		t.Fatal("key kept after failure")
	}
	if _, _, err := o2.Handle([]byte("{}")); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	co, _ := configs("room")
	cases := map[string]func(c *Config){
		"no role":            func(c *Config) { c.Role = 0 },
		"bad role":           func(c *Config) { c.Role = 3 },
		"no room":            func(c *Config) { c.Room = "" },
		"long room":          func(c *Config) { c.Room = string(make([]byte, MaxRoomSize+1)) },
		"short fingerprint":  func(c *Config) { c.LocalFingerprint = c.LocalFingerprint[:31] },
		"no remote fp":       func(c *Config) { c.RemoteFingerprint = nil },
		"fp with no binding": func(c *Config) { c.NoChannelBinding = true },
		"no fp, binding on":  func(c *Config) { c.LocalFingerprint, c.RemoteFingerprint = nil, nil },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := co
			edit(&c)
			if _, err := NewHandshake(c); !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestRelayPathAndBindingMismatch(t *testing.T) {
	t.Parallel()
	ro := Config{Room: "r", Role: RoleOfferer, NoChannelBinding: true}
	ra := Config{Room: "r", Role: RoleAnswerer, NoChannelBinding: true}
	o, a := newPair(t, ro, ra)
	so, sa, err := run(o, a)
	if err != nil || so.SAS() != sa.SAS() {
		t.Fatalf("relay handshake: %v", err)
	}
	// One side binds DTLS, the other claims the relay path: refused.
	co, _ := configs("r")
	o, a = newPair(t, co, ra)
	if _, _, err := run(o, a); !errors.Is(err, ErrFingerprintMismatch) {
		t.Fatalf("got %v", err)
	}
}

// mitm runs two honest-looking handshakes through an attacker who
// terminates both (swapping every X25519 key, and on the DTLS path the
// certificates too).
func TestMITMChangesSASAndTH(t *testing.T) {
	t.Parallel()
	for _, relay := range []bool{true, false} {
		cfg := func(role Role, local, remote string) Config {
			c := Config{Room: "room", Role: role, NoChannelBinding: relay, Rand: fixedRand(byte(len(local) + int(role)))}
			if !relay {
				c.LocalFingerprint, c.RemoteFingerprint = fp(local), fp(remote)
			}
			return c
		}
		// O ↔ M (M answers), M ↔ A (M offers). Each side sees M's certificate.
		o, m1 := newPair(t, cfg(RoleOfferer, "O", "M1"), cfg(RoleAnswerer, "M1", "O"))
		m2, a := newPair(t, cfg(RoleOfferer, "M2xx", "A"), cfg(RoleAnswerer, "A", "M2xx"))
		so, _, err := run(o, m1)
		if err != nil {
			t.Fatal(err)
		}
		_, sa, err := run(m2, a)
		if err != nil {
			t.Fatal(err)
		}
		if so.SAS() == sa.SAS() {
			t.Fatalf("relay=%v: SAS equal under MITM", relay)
		}
		if bytes.Equal(so.TranscriptHash(), sa.TranscriptHash()) {
			t.Fatalf("relay=%v: TH equal under MITM", relay)
		}
		// A frame sealed by O does not open at A.
		f, _ := so.Seal([]byte("hi"))
		if _, err := sa.Open(f); !errors.Is(err, ErrAuth) {
			t.Fatal(err)
		}
	}
}
