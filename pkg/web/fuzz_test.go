package web_test

import (
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
