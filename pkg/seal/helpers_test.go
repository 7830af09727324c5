package seal

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"testing"
)

// fixedRand returns a reader yielding 32 bytes of b repeated.
func fixedRand(b byte) *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{b}, 32)) }

func fp(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// configs returns matching offerer and answerer configs with channel binding.
func configs(room string) (Config, Config) {
	fo, fa := fp("cert-offerer"), fp("cert-answerer")
	return Config{Room: room, Role: RoleOfferer, LocalFingerprint: fo, RemoteFingerprint: fa},
		Config{Room: room, Role: RoleAnswerer, LocalFingerprint: fa, RemoteFingerprint: fo}
}

// run drives two handshakes to completion in memory.
func run(o, a *Handshake) (so, sa *Session, err error) {
	m1, err := o.Start()
	if err != nil {
		return nil, nil, err
	}
	if _, err = a.Start(); err != nil {
		return nil, nil, err
	}
	m2, _, err := a.Handle(m1)
	if err != nil {
		return nil, nil, err
	}
	m3, so, err := o.Handle(m2)
	if err != nil {
		return nil, nil, err
	}
	_, sa, err = a.Handle(m3)
	return so, sa, err
}

func mustPair(t testing.TB) (*Session, *Session) {
	t.Helper()
	co, ca := configs("room")
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

func x25519(t testing.TB, priv, pub []byte) []byte {
	t.Helper()
	sk, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sk.ECDH(pk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ecdhPair does what two peers' X25519 costs: two key pairs, two ECDHs.
func ecdhPair(a, b []byte) ([]byte, error) {
	ka, err := ecdh.X25519().NewPrivateKey(a)
	if err != nil {
		return nil, err
	}
	kb, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return nil, err
	}
	if _, err := kb.ECDH(ka.PublicKey()); err != nil {
		return nil, err
	}
	return ka.ECDH(kb.PublicKey())
}
