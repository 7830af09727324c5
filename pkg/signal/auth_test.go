package signal

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
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
