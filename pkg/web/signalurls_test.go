package web_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/verytippers/vtpeer/pkg/web"
)

// TestSignalURLs: Options.SignalURLs reach the page in /config.json as one
// comma-separated list and their origins join the CSP's connect-src (the
// page may connect to every node it is told about and nothing else); a
// URL that is not ws(s)://HOST/PATH, or that could break the header or
// the list, is refused with ErrBadOptions.
func TestSignalURLs(t *testing.T) {
	t.Parallel()
	urls := []string{"ws://127.0.0.1:8081/ws", "wss://node-b.example.org/ws", "ws://[::1]:9000/"}
	_, hs := newServer(t, &web.Options{SignalURLs: urls})
	resp, err := hs.Client().Get(hs.URL + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg struct {
		Signal string `json:"signal"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Signal != strings.Join(urls, ",") {
		t.Errorf("config signal = %q", cfg.Signal)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	host := strings.TrimPrefix(hs.URL, "http://")
	if want := "connect-src 'self' ws://" + host + " wss://" + host + " ws://127.0.0.1:8081 wss://node-b.example.org ws://[::1]:9000;"; !strings.Contains(csp, want) {
		t.Errorf("CSP %q lacks %q", csp, want)
	}

	// Without SignalURLs: no "signal" in the config, the CSP as before.
	_, plain := newServer(t, nil)
	resp, err = plain.Client().Get(plain.URL + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["signal"]; ok || resp.StatusCode != http.StatusOK {
		t.Errorf("config without SignalURLs = %v (%d)", m, resp.StatusCode)
	}
	checkSecurityHeaders(t, resp.Header, strings.TrimPrefix(plain.URL, "http://"))

	for _, bad := range []string{
		"http://a/ws", "a:1/ws", "ws://", "ws://a/ws?x=1", "ws://a/ws#f", "ws://a,ws://b", "ws://a/ws;script-src *",
		"ws://a/w's", "ws://u:p@a/ws", "ws://a b/ws", "ws://a/ws\n", "wss://a/\"", "",
	} {
		if _, err := web.NewHandler(&web.Options{SignalURLs: []string{bad}}); !errors.Is(err, web.ErrBadOptions) {
			t.Errorf("SignalURLs [%q]: %v, want ErrBadOptions", bad, err)
		}
	}
}
