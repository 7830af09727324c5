package web_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/verytippers/vtpeer/pkg/web"
)

// FuzzCleanPath: whatever the path, CleanPath either refuses it or returns
// it unchanged with no dot segment, backslash, control character or empty
// inner segment — nothing that could leave the tree.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/p2p", "/js/app.js", "/../x", "/%2e%2e/", "//a", "/a\\b", "/js/", ""} {
		f.Add(s, "")
	}
	f.Add("/js/app.js", "/js%2fapp.js")
	f.Fuzz(func(t *testing.T, p, raw string) {
		got, err := web.CleanPath(p, raw)
		if err != nil {
			return
		}
		if got != p || !strings.HasPrefix(got, "/") || strings.ContainsAny(got, "\\\x00") {
			t.Fatalf("CleanPath(%q) = %q", p, got)
		}
		segs := strings.Split(got[1:], "/")
		for i, s := range segs {
			if s == "." || s == ".." || (s == "" && i != len(segs)-1) {
				t.Fatalf("CleanPath(%q) kept segment %q", p, s)
			}
		}
	})
}

// FuzzSignalURLs: whatever Options.SignalURLs holds, NewHandler either
// refuses it with ErrBadOptions or serves a CSP whose connect-src gained
// only ws:// and wss:// sources with no character that could end the
// directive or the header.
func FuzzSignalURLs(f *testing.F) {
	for _, s := range []string{"ws://127.0.0.1:8081/ws", "wss://a.example/ws", "ws://a/ws;script-src *", "ws://a,ws://b", "ws://[::1]:1/", "http://a/", "ws://a/\r\nX: y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		h, err := web.NewHandler(&web.Options{SignalURLs: []string{u}})
		if err != nil {
			if !errors.Is(err, web.ErrBadOptions) {
				t.Fatalf("SignalURLs [%q]: %v, want ErrBadOptions", u, err)
			}
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://host.test/", nil))
		csp := rec.Header().Get("Content-Security-Policy")
		_, rest, _ := strings.Cut(csp, "connect-src 'self' ws://host.test wss://host.test ")
		src, _, ok := strings.Cut(rest, "; manifest-src")
		if !ok || strings.ContainsAny(src, ";,'\"\r\n\t") || strings.Contains(src, " ") ||
			!(strings.HasPrefix(src, "ws://") || strings.HasPrefix(src, "wss://")) {
			t.Fatalf("SignalURLs [%q] gave connect-src source %q in %q", u, src, csp)
		}
	})
}
