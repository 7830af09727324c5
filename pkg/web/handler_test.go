package web_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/verytippers/vtpeer/pkg/web"
)

// newServer serves h (nil: the embedded page) on a loopback httptest server.
func newServer(t *testing.T, opts *web.Options) (*web.Handler, *httptest.Server) {
	t.Helper()
	h, err := web.NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return h, hs
}

// rawGet sends one request line exactly as written (no client-side path
// cleaning) and returns the status.
func rawGet(t *testing.T, hs *httptest.Server, target, host string) int {
	t.Helper()
	c, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func checkSecurityHeaders(t *testing.T, h http.Header, host string) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self' ws://" + host + " wss://" + host + ";", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
	if got := h.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q", got)
	}
}

// TestPage: the page at / and /p2p, files by name with their MIME type, the
// security headers on every answer (errors too), ETag revalidation, no
// listings, no methods but GET and HEAD.
func TestPage(t *testing.T) {
	t.Parallel()
	h, hs := newServer(t, nil)
	host := hs.Listener.Addr().String()
	tests := []struct {
		method, path string
		status       int
		ctype        string
		body         string // substring
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "<script type=\"module\""},
		{"GET", "/p2p", 200, "text/html; charset=utf-8", "<script type=\"module\""},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", "<html"},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/js/app.js", 200, "text/javascript; charset=utf-8", ""},
		{"GET", "/config.json", 200, "application/json", `"signalPath":"/ws"`},
		{"GET", "/js/", 404, "", ""},
		{"GET", "/js", 404, "", ""},
		{"GET", "/p2p/", 404, "", ""},
		{"GET", "/static/index.html", 404, "", ""},
		{"GET", "/nope.js", 404, "", ""},
		{"POST", "/", 405, "", ""},
		{"PUT", "/js/app.js", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(tt.method, hs.URL+tt.path, nil)
			resp, err := hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			checkSecurityHeaders(t, resp.Header, host)
			if tt.status != 200 {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("caching headers: ETag %q Cache-Control %q", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("body lacks %q:\n%.300s", tt.body, body)
			}
			if tt.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD has a body")
			}
		})
	}
	t.Run("revalidate", func(t *testing.T) {
		t.Parallel()
		resp, err := hs.Client().Get(hs.URL + "/js/app.js")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		req, _ := http.NewRequest("GET", hs.URL+"/js/app.js", nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		resp, err = hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match: status %d, want 304", resp.StatusCode)
		}
	})
	t.Run("config", func(t *testing.T) {
		t.Parallel()
		resp, err := hs.Client().Get(hs.URL + "/config.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var cfg struct{ SignalPath, Version string }
		if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.SignalPath != "/ws" || cfg.Version != h.Version() || len(cfg.Version) != 16 {
			t.Fatalf("config %+v, handler version %q", cfg, h.Version())
		}
	})
}

// TestTraversal: requests sent byte for byte as an attacker would write
// them never leave the tree: dot segments, encoded dots and slashes,
// backslashes get 400; a hostile Host (which lands in the CSP) gets 400.
func TestTraversal(t *testing.T) {
	t.Parallel()
	_, hs := newServer(t, nil)
	host := hs.Listener.Addr().String()
	for _, tt := range []struct {
		target, host string
		status       int
	}{
		{"/", host, 200},
		{"/../", host, 400},
		{"/../../etc/passwd", host, 400},
		{"/js/../index.html", host, 400},
		{"/%2e%2e/%2e%2e/etc/passwd", host, 400},
		{"/%2E%2E/", host, 400},
		{"/js/%2e%2e%2findex.html", host, 400},
		{"/js%2fapp.js", host, 400},
		{"/js%5capp.js", host, 400},
		{"/./index.html", host, 400},
		{"//index.html", host, 400},
		{"/js//app.js", host, 400},
		{"/%00", host, 400},
		{"/", "evil.example;script-src*", 400},
		{"/", "a'b", 400},
	} {
		if got := rawGet(t, hs, tt.target, tt.host); got != tt.status {
			t.Errorf("GET %s (Host %s): %d, want %d", tt.target, tt.host, got, tt.status)
		}
	}
}

// TestOptions: bad options are refused by name; a tree of one's own is
// served, and its version follows its content.
func TestOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []*web.Options{
		{SignalPath: "ws"},
		{SignalPath: "/ws?x=1"},
		{SignalPath: `/ws"`},
		{Files: fstest.MapFS{"app.js": {Data: []byte("x")}}},
	} {
		if _, err := web.NewHandler(o); !errors.Is(err, web.ErrBadOptions) {
			t.Errorf("%+v: %v, want ErrBadOptions", o, err)
		}
	}
	tree := func(js string) fstest.MapFS {
		return fstest.MapFS{"index.html": {Data: []byte("<p>hi")}, "a/b.js": {Data: []byte(js)}, ".hidden": {Data: []byte("no")}}
	}
	h1, hs := newServer(t, &web.Options{Files: tree("1"), SignalPath: "/signal"})
	h2, err := web.NewHandler(&web.Options{Files: tree("2")})
	if err != nil {
		t.Fatal(err)
	}
	if h1.Version() == h2.Version() {
		t.Errorf("versions equal for different trees")
	}
	if h1.Size(".js") != 1 {
		t.Errorf("Size(.js) = %d", h1.Size(".js"))
	}
	for path, status := range map[string]int{"/a/b.js": 200, "/.hidden": 404, "/a/": 404} {
		resp, err := hs.Client().Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, status)
		}
	}
}

// TestEmbeddedBudget: the JavaScript the page serves stays under the issue's
// 150 KiB (uncompressed).
func TestEmbeddedBudget(t *testing.T) {
	t.Parallel()
	h, err := web.NewHandler(nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := h.Size(".js"); n == 0 || n >= 150<<10 {
		t.Fatalf("page JavaScript is %d bytes, want 0 < n < 150 KiB", n)
	}
}
