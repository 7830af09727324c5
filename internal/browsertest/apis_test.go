package browsertest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// TestBrowserHasProtocolAPIs: the browser the tests drive has what
// docs/PROTOCOL.md "Peer sessions" tells a page to use — X25519 in
// WebCrypto, RTCCertificate.getFingerprints() (sha-256, the same value as
// the local SDP's a=fingerprint), RTCDtlsTransport.getRemoteCertificates()
// (whose SHA-256 is the peer's fingerprint), and a=max-message-size /
// pc.sctp.maxMessageSize.
func TestBrowserHasProtocolAPIs(t *testing.T) {
	t.Parallel()
	b := browsertest.Start(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>apis</title><script src="/apis.js"></script>`))
	})
	mux.HandleFunc("/apis.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, "testdata/webrtc_apis.js")
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tab := b.NewTab(t, "apis")
	if err := tab.Navigate(ctx, hs.URL+"/"); err != nil { // 127.0.0.1: a secure context
		t.Fatal(err)
	}
	type apis struct {
		Error                 string
		X25519                bool
		OwnFingerprint        string
		OfferFingerprint      string
		OfferMaxMessageSize   string
		SCTPMaxMessageSize    int
		RemoteCertificates    int
		RemoteCertFingerprint string
	}
	got, err := browsertest.WaitFor[apis](ctx, tab, "window.apis")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", got)
	switch {
	case got.Error != "":
		t.Fatalf("page: %s", got.Error)
	case !got.X25519:
		t.Error("no X25519 in WebCrypto")
	case len(got.OwnFingerprint) != 64 || got.OwnFingerprint != got.OfferFingerprint:
		t.Errorf("getFingerprints %q vs the offer's a=fingerprint %q", got.OwnFingerprint, got.OfferFingerprint)
	case got.RemoteCertificates == 0 || got.RemoteCertFingerprint != got.OwnFingerprint:
		t.Errorf("getRemoteCertificates: %d, SHA-256 %q, want the offerer's %q", got.RemoteCertificates, got.RemoteCertFingerprint, got.OwnFingerprint)
	case got.OfferMaxMessageSize == "" || got.SCTPMaxMessageSize <= 0:
		t.Errorf("max message size: SDP %q, sctp %d", got.OfferMaxMessageSize, got.SCTPMaxMessageSize)
	}
	tab.CheckNoExceptions(t)
}
