package signal

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	secret := []byte(strings.Repeat("s", 32))
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hsV, err := NewHS256Verifier(secret, "")
	if err != nil {
		t.Fatal(err)
	}
	edV, err := NewPublicKeyVerifier(pubPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(room, aud string, exp time.Time) jwt.MapClaims {
		c := jwt.MapClaims{"aud": aud, "iat": now.Unix()}
		if !exp.IsZero() {
			c["exp"] = exp.Unix()
		}
		if room != "" {
			c["room"] = room
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hour := now.Add(time.Hour)
	noneTok := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"vtpeer","exp":`+jsonInt(hour.Unix())+`}`)) + "."
	minted, err := MintHS256(secret, "r", "", "alice", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		v     *Verifier
		token string
		ok    bool
	}{
		{"valid HS256", hsV, sign(jwt.SigningMethodHS256, secret, claims("r", "vtpeer", hour)), true},
		{"minted", hsV, minted, true},
		{"valid EdDSA", edV, sign(jwt.SigningMethodEdDSA, priv, claims("", "vtpeer", hour)), true},
		{"missing", hsV, "", false},
		{"alg none", hsV, noneTok, false},
		{"HS with public key as secret", edV, sign(jwt.SigningMethodHS256, pubPEM, claims("r", "vtpeer", hour)), false},
		{"EdDSA to HS verifier", hsV, sign(jwt.SigningMethodEdDSA, priv, claims("r", "vtpeer", hour)), false},
		{"expired", hsV, sign(jwt.SigningMethodHS256, secret, claims("r", "vtpeer", now.Add(-time.Hour))), false},
		{"no exp", hsV, sign(jwt.SigningMethodHS256, secret, claims("r", "vtpeer", time.Time{})), false},
		{"wrong aud", hsV, sign(jwt.SigningMethodHS256, secret, claims("r", "other", hour)), false},
		{"wrong room", hsV, sign(jwt.SigningMethodHS256, secret, claims("elsewhere", "vtpeer", hour)), false},
		{"bad signature", hsV, sign(jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), claims("r", "vtpeer", hour)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, url := testServer(t, &ServerOptions{Auth: tc.v})
			// in the join frame, as the browser client sends it
			c := dialRaw(t, url, nil)
			c.send(`{"type":"join","room":"r","token":"` + tc.token + `"}`)
			if tc.ok {
				c.expect(TypeJoined, "")
			} else {
				c.expect(TypeError, CodeUnauthorized)
			}
			if tc.token == "" {
				return
			}
			// as ?token= and as Authorization: Bearer
			for _, how := range []string{"query", "header"} {
				u, h := url, http.Header{}
				if how == "query" {
					u += "/?token=" + tc.token
				} else {
					h.Set("Authorization", "Bearer "+tc.token)
				}
				ws, resp, err := websocket.Dial(testCtx(t), u, &websocket.DialOptions{HTTPHeader: h})
				if err != nil {
					if tc.ok || resp == nil || resp.StatusCode != http.StatusUnauthorized {
						t.Fatalf("%s: dial err %v resp %v", how, err, resp)
					}
					continue
				}
				rc := &rawConn{t: t, ws: ws}
				rc.send(`{"type":"join","room":"r"}`)
				if tc.ok {
					rc.expect(TypeJoined, "")
				} else {
					rc.expect(TypeError, CodeUnauthorized) // wrong room: valid token, refused at join
				}
				_ = ws.CloseNow()
			}
		})
	}
}

func jsonInt(n int64) string { return strconv.FormatInt(n, 10) }

func TestVerifierOptions(t *testing.T) {
	t.Parallel()
	if _, err := NewHS256Verifier([]byte("short"), ""); err == nil {
		t.Fatal("short secret accepted")
	}
	if _, err := NewPublicKeyVerifier([]byte("not pem"), ""); err == nil {
		t.Fatal("bad PEM accepted")
	}
}

// fakeClock is a settable clock for a Verifier.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestAuthExpiryAtEveryJoin: a token given at upgrade authorizes joins only
// until its exp (plus the leeway), not for the life of the connection
// (issue 8, item 6: a 3 s token still joined 40 s later).
func TestAuthExpiryAtEveryJoin(t *testing.T) {
	t.Parallel()
	secret := []byte(strings.Repeat("s", 32))
	for _, tc := range []struct {
		name   string
		leeway time.Duration // 0: the default
		after  time.Duration // since the token was minted
		ok     bool
	}{
		{"before exp", 0, 2 * time.Second, true},
		{"in the default leeway", 0, 3*time.Second + DefaultLeeway - time.Second, true},
		{"past the default leeway", 0, 3*time.Second + DefaultLeeway + time.Second, false},
		{"40 s later (the issue)", 0, 40 * time.Second, false},
		{"no leeway, just past exp", -1, 3*time.Second + time.Second, false},
		{"5 s leeway, inside", 5 * time.Second, 7 * time.Second, true},
		{"5 s leeway, past", 5 * time.Second, 9 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{}
			minted := time.Unix(1_900_000_000, 0)
			clock.set(minted)
			v, err := NewHS256Verifier(secret, "")
			if err != nil {
				t.Fatal(err)
			}
			if v, err = v.WithOptions(&VerifierOptions{Leeway: tc.leeway, Now: clock.now}); err != nil {
				t.Fatal(err)
			}
			tok, err := MintHS256(secret, "", "", "alice", 3*time.Second, minted) // as vtpeer token does
			if err != nil {
				t.Fatal(err)
			}
			_, url := testServer(t, &ServerOptions{Auth: v})
			c := dialRaw(t, url+"/?token="+tok, nil)
			c.join("first")
			clock.advance(tc.after)
			c.send(`{"type":"join","room":"second"}`)
			if tc.ok {
				c.expect(TypeJoined, "")
			} else {
				c.expect(TypeError, CodeUnauthorized)
			}
			// the same token in the join frame is judged alike
			c.send(`{"type":"join","room":"third","token":"` + tok + `"}`)
			if tc.ok {
				c.expect(TypeJoined, "")
			} else {
				c.expect(TypeError, CodeUnauthorized)
			}
		})
	}
}

// TestAuthNumericDates: exp, nbf and iat must be JSON numbers; a string,
// even one holding digits, is refused (golang-jwt reads "123" as 123).
func TestAuthNumericDates(t *testing.T) {
	t.Parallel()
	secret := []byte(strings.Repeat("s", 32))
	v, err := NewHS256Verifier(secret, "")
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		ok     bool
	}{
		{"numeric exp", jwt.MapClaims{"aud": "vtpeer", "exp": exp}, true},
		{"fractional exp", jwt.MapClaims{"aud": "vtpeer", "exp": float64(exp) + 0.5}, true},
		{"string exp", jwt.MapClaims{"aud": "vtpeer", "exp": jsonInt(exp)}, false},
		{"word exp", jwt.MapClaims{"aud": "vtpeer", "exp": "tomorrow"}, false},
		{"bool exp", jwt.MapClaims{"aud": "vtpeer", "exp": true}, false},
		{"null exp", jwt.MapClaims{"aud": "vtpeer", "exp": nil}, false},
		{"object exp", jwt.MapClaims{"aud": "vtpeer", "exp": map[string]int{"s": 1}}, false},
		{"string nbf", jwt.MapClaims{"aud": "vtpeer", "exp": exp, "nbf": "0"}, false},
		{"string iat", jwt.MapClaims{"aud": "vtpeer", "exp": exp, "iat": "0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tc.claims).SignedString(secret)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(tok)
			if (err == nil) != tc.ok {
				t.Fatalf("Verify: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Verify: %v does not wrap ErrUnauthorized", err)
			}
		})
	}
}

func TestVerifierLeewayOption(t *testing.T) {
	t.Parallel()
	v, err := NewHS256Verifier([]byte(strings.Repeat("s", 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in, want time.Duration
		ok       bool
	}{
		{0, DefaultLeeway, true}, {-1, 0, true}, {5 * time.Second, 5 * time.Second, true}, {2 * time.Hour, 0, false},
	} {
		w, err := v.WithOptions(&VerifierOptions{Leeway: tc.in})
		if (err == nil) != tc.ok || err == nil && w.Leeway() != tc.want {
			t.Errorf("leeway %v: %v, %v; want %v ok=%v", tc.in, w, err, tc.want, tc.ok)
		}
	}
}

// FuzzVerifyClaims signs arbitrary claim bytes with a valid HS256
// signature, so the fuzzer reaches claim parsing: Verify never panics,
// every refusal wraps ErrUnauthorized, and an accepted token has a numeric
// exp (not a string of digits) in the future.
func FuzzVerifyClaims(f *testing.F) {
	for _, s := range []string{
		`{"aud":"vtpeer","exp":4102444800}`,
		`{"aud":"vtpeer","exp":"4102444800"}`,
		`{"aud":"vtpeer","EXP":"4102444800"}`,
		`{"aud":"vtpeer","exp":4102444800,"nbf":"1"}`,
		`{"aud":["vtpeer"],"exp":4102444800.5,"iat":1,"room":"r"}`,
		`{"aud":"vtpeer","exp":1}`, `{}`, `[]`, `{"exp":null}`,
	} {
		f.Add([]byte(s))
	}
	secret := []byte(strings.Repeat("s", 32))
	v, err := NewHS256Verifier(secret, "")
	if err != nil {
		f.Fatal(err)
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		signing := header + "." + base64.RawURLEncoding.EncodeToString(payload)
		sig, err := jwt.SigningMethodHS256.Sign(signing, secret)
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(signing + "." + base64.RawURLEncoding.EncodeToString(sig))
		if err != nil {
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("error %v does not wrap ErrUnauthorized", err)
			}
			return
		}
		if c.ExpiresAt == nil || !c.ExpiresAt.After(time.Now()) {
			t.Fatalf("accepted without a future exp: %+v", c)
		}
		if checkNumericDates(signing+".x") != nil {
			t.Fatalf("accepted non-numeric dates: %s", payload)
		}
	})
}
