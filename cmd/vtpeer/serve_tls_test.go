package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestServeTLS: with --tls-cert and --tls-key, serve speaks wss:// with that
// certificate and nothing else; the two flags go together (exit 2) and
// unreadable files fail before the server says it is listening (exit 1).
func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, certFile, keyFile := writeSelfSigned(t, dir, "a")
	_, _, otherKey := writeSelfSigned(t, dir, "b")

	t.Run("wss", func(t *testing.T) {
		t.Parallel()
		addr, cancel, done := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile)
		defer cancel()
		ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()

		// plain ws:// to the TLS port is refused.
		if c, resp, err := websocket.Dial(ctx, "ws://"+addr+"/", nil); err == nil {
			c.CloseNow()
			t.Fatal("ws:// dial to the TLS port succeeded")
		} else if resp != nil && resp.StatusCode == http.StatusSwitchingProtocols {
			t.Fatalf("ws:// dial: %v after a 101", err)
		}
		// wss:// without trusting the certificate fails verification.
		var unknown x509.UnknownAuthorityError
		if c, _, err := websocket.Dial(ctx, "wss://"+addr+"/", nil); err == nil {
			c.CloseNow()
			t.Fatal("wss:// dial trusted a self-signed certificate")
		} else if !errors.As(err, &unknown) {
			t.Fatalf("wss:// dial with system roots: %v, want an unknown authority", err)
		}

		pool := x509.NewCertPool()
		pool.AddCert(cert)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		defer tr.CloseIdleConnections()
		c, _, err := websocket.Dial(ctx, "wss://"+addr+"/", &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
		if err != nil {
			t.Fatalf("wss:// dial: %v", err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"r"}`)); err != nil {
			t.Fatal(err)
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var f struct{ Type, Room, PeerID string }
		if err := json.Unmarshal(b, &f); err != nil || f.Type != "joined" || f.Room != "r" || f.PeerID == "" {
			t.Fatalf("answer to join: %s (%v)", b, err)
		}

		// keep reading so the close handshake of the shutdown completes.
		closed := make(chan error, 1)
		go func() { _, _, err := c.Read(ctx); closed <- err }()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
		if err := <-closed; websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Fatalf("after shutdown: %v, want a going-away close", err)
		}
	})

	t.Run("usage", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"serve", "--addr", "127.0.0.1:0", "--tls-cert", certFile},
			{"serve", "--addr", "127.0.0.1:0", "--tls-key", keyFile},
		} {
			var stderr bytes.Buffer
			if code := run(args, strings.NewReader(""), io.Discard, &stderr); code != exitUsage {
				t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), "--tls-cert and --tls-key go together") {
				t.Errorf("%v: stderr %q", args, stderr.String())
			}
		}
	})

	t.Run("bad files", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(dir, "missing.pem")
		for _, tt := range []struct {
			name, cert, key string
			want            []string
		}{
			{"missing cert", missing, keyFile, []string{"--tls-cert", missing, "no such file"}},
			{"missing key", certFile, missing, []string{"--tls-key", missing, "no such file"}},
			{"key of another cert", certFile, otherKey, []string{"--tls-key", "does not match"}},
		} {
			var stderr bytes.Buffer
			args := []string{"serve", "--addr", "127.0.0.1:0", "--tls-cert", tt.cert, "--tls-key", tt.key}
			if code := run(args, strings.NewReader(""), io.Discard, &stderr); code != exitFailure {
				t.Errorf("%s: exit %d, want %d (%s)", tt.name, code, exitFailure, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("%s: stderr lacks %q:\n%s", tt.name, w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "msg=listening") {
				t.Errorf("%s: serve said it was listening:\n%s", tt.name, stderr.String())
			}
		}
	})
}

// writeSelfSigned writes a self-signed ECDSA P-256 certificate for 127.0.0.1
// and its key as PEM files name.crt and name.key in dir.
func writeSelfSigned(t *testing.T, dir, name string) (cert *x509.Certificate, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "vtpeer test " + name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}
