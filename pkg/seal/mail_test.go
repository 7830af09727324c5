package seal

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
)

func mailKey(t testing.TB, b byte) *ecdh.PrivateKey {
	t.Helper()
	k, err := GenerateStaticKey(fixedRand(b))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestMailRoundTrip(t *testing.T) {
	t.Parallel()
	k := mailKey(t, 7)
	pub := k.PublicKey().Bytes()
	for _, pt := range [][]byte{nil, []byte("hi"), bytes.Repeat([]byte{9}, MaxMailSize-MailOverhead)} {
		blob, err := SealMail(pub, "lobby", pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(blob) != len(pt)+MailOverhead || blob[0] != MailVersion {
			t.Fatalf("blob layout: len %d, version %d", len(blob), blob[0])
		}
		got, err := OpenMail(k, "lobby", blob)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("open: %v", err)
		}
	}
	a, _ := SealMail(pub, "lobby", []byte("same"))
	b, _ := SealMail(pub, "lobby", []byte("same"))
	if bytes.Equal(a[:1+KeySize], b[:1+KeySize]) {
		t.Fatal("two mails share an ephemeral key")
	}
}

// TestMailMatchesSpec opens a blob with crypto/hpke directly, building the
// info from PROTOCOL.md by hand, so that the document and the code agree.
func TestMailMatchesSpec(t *testing.T) {
	t.Parallel()
	k := mailKey(t, 3)
	blob, err := SealMail(k.PublicKey().Bytes(), "r", []byte("spec"))
	if err != nil {
		t.Fatal(err)
	}
	info := append([]byte{0, 0, 0, 14}, "vtpeer/mail/v1"...)
	info = append(info, 0, 0, 0, 1, 'r')
	sk, err := hpke.DHKEM(ecdh.X25519()).NewPrivateKey(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	r, err := hpke.NewRecipient(blob[1:33], sk, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := r.Open([]byte{1}, blob[33:])
	if err != nil || string(pt) != "spec" {
		t.Fatalf("spec open: %q %v", pt, err)
	}
}

func TestMailRejects(t *testing.T) {
	t.Parallel()
	k, other := mailKey(t, 1), mailKey(t, 2)
	blob, err := SealMail(k.PublicKey().Bytes(), "room", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenMail(other, "room", blob); !errors.Is(err, ErrAuth) {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := OpenMail(k, "room2", blob); !errors.Is(err, ErrAuth) {
		t.Errorf("wrong room: %v", err)
	}
	for i := range blob {
		for _, bit := range []byte{0x01, 0x80} {
			c := bytes.Clone(blob)
			c[i] ^= bit
			pt, err := OpenMail(k, "room", c)
			want := ErrAuth
			if i == 0 {
				want = ErrVersion
			}
			if pt != nil || !errors.Is(err, want) {
				t.Fatalf("flip byte %d bit %x: %v", i, bit, err)
			}
		}
	}
	for n := range len(blob) {
		if _, err := OpenMail(k, "room", blob[:n]); err == nil {
			t.Fatalf("truncated to %d opened", n)
		}
	}
	if _, err := OpenMail(k, "room", append(bytes.Clone(blob), 0)); !errors.Is(err, ErrAuth) {
		t.Errorf("extended: %v", err)
	}
	big := make([]byte, MaxMailSize+1)
	big[0] = MailVersion
	if _, err := OpenMail(k, "room", big); !errors.Is(err, ErrAuth) {
		t.Errorf("oversized: %v", err)
	}
	if _, err := OpenMail(nil, "room", blob); !errors.Is(err, ErrConfig) {
		t.Errorf("nil key: %v", err)
	}
	if _, err := OpenMail(k, "", blob); !errors.Is(err, ErrConfig) {
		t.Errorf("empty room: %v", err)
	}
}

func TestSealMailRejects(t *testing.T) {
	t.Parallel()
	pub := mailKey(t, 1).PublicKey().Bytes()
	if _, err := SealMail(pub, "", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("empty room: %v", err)
	}
	if _, err := SealMail(pub, "\xff", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("invalid UTF-8 room: %v", err)
	}
	if _, err := SealMail(pub, "r", make([]byte, MaxMailSize-MailOverhead+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("too big: %v", err)
	}
	if _, err := SealMail(pub[:31], "r", nil); !errors.Is(err, ErrBadKey) {
		t.Errorf("short key: %v", err)
	}
	for _, k := range lowOrder {
		if _, err := SealMail(mustHex(k), "r", []byte("x")); !errors.Is(err, ErrBadKey) {
			t.Errorf("low-order key %s: %v", k[:8], err)
		}
	}
}

func TestMailboxID(t *testing.T) {
	t.Parallel()
	pub := mailKey(t, 5).PublicKey().Bytes()
	id := MailboxID(pub)
	want := sha256.Sum256(append([]byte("vtpeer/mailbox/v1"), pub...))
	if len(id) != MailboxIDLen || !ValidMailboxID(id) || !bytes.Equal(mustHex(id), want[:16]) {
		t.Fatalf("MailboxID = %q", id)
	}
	if MailboxID(mailKey(t, 6).PublicKey().Bytes()) == id {
		t.Fatal("two keys, one mailbox")
	}
	for _, s := range []string{"", id[:31], id + "0", strings.ToUpper(id), "g" + id[1:]} {
		if ValidMailboxID(s) {
			t.Errorf("ValidMailboxID(%q)", s)
		}
	}
}

func TestGenerateStaticKey(t *testing.T) {
	t.Parallel()
	if _, err := GenerateStaticKey(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Fatal("short reader accepted")
	}
	a, err := GenerateStaticKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateStaticKey(nil)
	if a.Equal(b) {
		t.Fatal("crypto/rand gave the same key twice")
	}
	if !mailKey(t, 9).Equal(mailKey(t, 9)) {
		t.Fatal("same reader, different keys")
	}
}

func sampleContent() MailContent {
	return MailContent{ID: "m-01_AbC", From: "0x" + strings.Repeat("71", 20), Kind: "chat",
		Body: []byte(`{"text":"hi"}`), SentAt: 1764201600000}
}

func TestMailContentRoundTrip(t *testing.T) {
	t.Parallel()
	withSig := sampleContent()
	withSig.Signature = bytes.Repeat([]byte{0xab}, 65)
	empty := sampleContent()
	empty.Body = nil
	for _, c := range []MailContent{sampleContent(), withSig, empty} {
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseMailContent(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != c.ID || got.From != c.From || got.Kind != c.Kind || got.SentAt != c.SentAt ||
			!bytes.Equal(got.Body, c.Body) || !bytes.Equal(got.Signature, c.Signature) {
			t.Fatalf("round trip: %+v != %+v", got, c)
		}
	}
}

func TestMailContentStrict(t *testing.T) {
	t.Parallel()
	good, _ := sampleContent().Marshal()
	mod := func(f func(*MailContent)) MailContent { c := sampleContent(); f(&c); return c }
	for name, c := range map[string]MailContent{
		"empty id":    mod(func(c *MailContent) { c.ID = "" }),
		"id with dot": mod(func(c *MailContent) { c.ID = "a.b" }),
		"long id":     mod(func(c *MailContent) { c.ID = strings.Repeat("a", 65) }),
		"space from":  mod(func(c *MailContent) { c.From = "a b" }),
		"empty kind":  mod(func(c *MailContent) { c.Kind = "" }),
		"utf8 kind":   mod(func(c *MailContent) { c.Kind = "é" }),
		"negative at": mod(func(c *MailContent) { c.SentAt = -1 }),
		"short sig":   mod(func(c *MailContent) { c.Signature = []byte{1} }),
		"huge body":   mod(func(c *MailContent) { c.Body = make([]byte, MaxMailSize+1) }),
	} {
		if _, err := c.Marshal(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Marshal: %v", name, err)
		}
	}
	for name, b := range map[string][]byte{
		"empty":        nil,
		"version":      append([]byte{2}, good[1:]...),
		"trailing":     append(bytes.Clone(good), 0),
		"truncated":    good[:len(good)-1],
		"header only":  good[:1],
		"body len big": append(bytes.Clone(good[:len(good)-len(sampleContent().Body)-4]), 0xff, 0xff, 0xff, 0xff),
	} {
		if _, err := ParseMailContent(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse: %v", name, err)
		}
	}
}

// fakeAddr signs with identity_test.go's fakeSign / fakeRecover.
var fakeAddr = "0x" + strings.Repeat("71", 20)

func mailSigner() SignFunc { return fakeSign(mustHex(strings.Repeat("71", 20))) }

func TestMailSignature(t *testing.T) {
	t.Parallel()
	pub := mailKey(t, 1).PublicKey().Bytes()
	other := mailKey(t, 2).PublicKey().Bytes()
	c, err := SignMail("room", pub, sampleContent(), mailSigner())
	if err != nil {
		t.Fatal(err)
	}
	text := MailSigningText("room", pub, c)
	if !strings.HasPrefix(text, MailPrefix+"room: \"room\"\nto: ") || len(text) <= 32 {
		t.Fatalf("signing text %q", text)
	}
	if addr, err := VerifyMail("room", pub, c, fakeRecover); err != nil || addr != fakeAddr {
		t.Fatalf("verify: %q %v", addr, err)
	}
	for name, tc := range map[string]struct {
		room string
		pub  []byte
		c    MailContent
	}{
		"other room":      {"room2", pub, c},
		"other recipient": {"room", other, c},
		"body changed":    {"room", pub, func() MailContent { d := c; d.Body = []byte("x"); return d }()},
		"id changed":      {"room", pub, func() MailContent { d := c; d.ID = "other"; return d }()},
		"unsigned":        {"room", pub, sampleContent()},
		"from not addr":   {"room", pub, func() MailContent { d := c; d.From = MailboxID(pub); return d }()},
	} {
		if _, err := VerifyMail(tc.room, tc.pub, tc.c, fakeRecover); !errors.Is(err, ErrMailSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMailEndToEnd(t *testing.T) {
	t.Parallel()
	k := mailKey(t, 4)
	pub := k.PublicKey().Bytes()
	c, _ := SignMail("lobby", pub, sampleContent(), mailSigner())
	pt, _ := c.Marshal()
	blob, err := SealMail(pub, "lobby", pt)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := OpenMail(k, "lobby", blob)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMailContent(opened)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyMail("lobby", pub, got, fakeRecover); err != nil {
		t.Fatal(err)
	}
}

// FuzzOpenMail feeds arbitrary blobs to OpenMail with a fixed key. Only
// genuine blobs open; everything else is ErrAuth or ErrVersion, with
// no output and no panic.
func FuzzOpenMail(f *testing.F) {
	k := mailKey(f, 1)
	genuine, err := SealMail(k.PublicKey().Bytes(), "room", []byte("hello"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine)
	f.Add(genuine[:MailOverhead])
	f.Add([]byte{MailVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := OpenMail(k, "room", b)
		if err == nil {
			// Seeds are sealed in the coordinating process with its own
			// ephemeral keys, so compare content, not bytes: every genuine
			// blob here carries "hello".
			if string(pt) != "hello" || len(b) != MailOverhead+len(pt) {
				t.Fatalf("mutated mail opened: %q", pt)
			}
			return
		}
		if pt != nil || !(errors.Is(err, ErrAuth) || errors.Is(err, ErrVersion)) {
			t.Fatalf("error %v with output %q", err, pt)
		}
	})
}

// FuzzParseMailContent: whatever parses re-encodes to the same bytes.
func FuzzParseMailContent(f *testing.F) {
	good, _ := sampleContent().Marshal()
	f.Add(good)
	signed := sampleContent()
	signed.Signature = make([]byte, 65)
	b, _ := signed.Marshal()
	f.Add(b)
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseMailContent(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		out, err := c.Marshal()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("not canonical: %v", err)
		}
	})
}

func TestMailCheckSentAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		sent time.Time
		want error
	}{
		{"now", now, nil},
		{"at the skew limit", now.Add(MailMaxSkew), nil},
		{"past the skew limit", now.Add(MailMaxSkew + time.Millisecond), ErrMailFromFuture},
		{"at the age limit", now.Add(-MailMaxAge), nil},
		{"past the age limit", now.Add(-MailMaxAge - time.Millisecond), ErrMailTooOld},
		{"epoch", time.UnixMilli(0), ErrMailTooOld},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := MailContent{SentAt: tc.sent.UnixMilli()}.CheckSentAt(now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("CheckSentAt = %v, want %v", err, tc.want)
			}
		})
	}
}
