package browsertest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// TestHarness: a real Chromium starts, two isolated tabs load a page over
// loopback, the page's console line and uncaught exception reach the test
// through the tab, WaitFor sees a value the page sets later, and isolated
// tabs do not share storage while shared ones do.
func TestHarness(t *testing.T) {
	t.Parallel()
	b := browsertest.Start(t)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(`<!doctype html><title>h</title><script src="/a.js"></script>`))
		case "/a.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write([]byte(`console.log("hello from", location.pathname);
setTimeout(() => { window.ready = 42; }, 50);
setTimeout(() => { throw new Error("boom"); }, 0);`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ua, err := b.Version(ctx)
	if err != nil || !strings.Contains(ua, "Chrome/") {
		t.Fatalf("user agent %q: %v", ua, err)
	}
	tabs := b.NewTabs(t, "tab", 2)
	for _, tab := range tabs {
		if err := tab.Navigate(ctx, hs.URL+"/"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tab := range tabs {
		got, err := browsertest.WaitFor[int](ctx, tab, "window.ready")
		if err != nil || got != 42 {
			t.Fatalf("%s: ready = %d, %v", tab.Name, got, err)
		}
		if _, err := browsertest.WaitFor[bool](ctx, tab, "true"); err != nil {
			t.Fatal(err)
		}
	}
	// the exception arrives through the console stream: wait for it without sleeping
	for _, tab := range tabs {
		for len(tab.Exceptions()) == 0 {
			if _, err := browsertest.Eval[int](ctx, tab, "new Promise(r => setTimeout(() => r(1), 10))"); err != nil {
				t.Fatalf("%s never reported its exception: %v", tab.Name, err)
			}
		}
		if ex := tab.Exceptions(); !strings.Contains(ex[0], "boom") {
			t.Fatalf("%s exceptions %q", tab.Name, ex)
		}
	}
	if _, err := browsertest.Eval[bool](ctx, tabs[0], `localStorage.setItem("k", "v"), true`); err != nil {
		t.Fatal(err)
	}
	if v, err := browsertest.Eval[*string](ctx, tabs[1], `localStorage.getItem("k")`); err != nil || v != nil {
		t.Fatalf("isolated tab sees the other's storage: %v %v", v, err)
	}
	s1, s2 := b.NewSharedTab(t, "s1"), b.NewSharedTab(t, "s2")
	for _, tab := range []*browsertest.Tab{s1, s2} {
		if err := tab.Navigate(ctx, hs.URL+"/"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := browsertest.Eval[bool](ctx, s1, `localStorage.setItem("k", "shared"), true`); err != nil {
		t.Fatal(err)
	}
	if v, err := browsertest.Eval[string](ctx, s2, `localStorage.getItem("k")`); err != nil || v != "shared" {
		t.Fatalf("shared tab: %q %v", v, err)
	}
	if _, err := browsertest.Eval[int](context.Background(), s1, "1"); err == nil {
		t.Fatal("Eval without a deadline succeeded")
	}
}
