package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// TestOriginalClientCrossOrigin (issue 10 §1): the original VeryTippers
// browser client (a stand-in written from its protocol,
// testdata/origclient), served from its own origin like the app on
// http://localhost:5173, completes its flow against a DEFAULT vtpeer serve
// in two real Chromium tabs: join, offer/answer/ice through the server, a
// "verytippers-data" DataChannel, a text message each way. Before the
// default accepted any Origin, the upgrade got 403 and nothing connected.
func TestOriginalClientCrossOrigin(t *testing.T) {
	t.Parallel()
	b := browsertest.Start(t)
	addr, cancel, done := startServe(t) // no flags: the defaults a new user gets
	defer func() { cancel(); <-done }()

	app := httptest.NewServer(http.FileServer(http.Dir("../../testdata/origclient")))
	defer app.Close()
	_, appPort, _ := net.SplitHostPort(app.Listener.Addr().String())
	// another origin than the server's: another host name and port
	page := fmt.Sprintf("http://localhost:%s/index.html?signal=%s&room=%s", appPort,
		url.QueryEscape("ws://"+addr+"/"), "orig-"+fmt.Sprint(time.Now().UnixNano()))

	ctx, stop := context.WithTimeout(context.Background(), 90*time.Second)
	defer stop()
	first, second := b.NewTab(t, "first"), b.NewTab(t, "second")
	// the first joins alone, then the second; the first (already in the room) offers
	if err := first.Navigate(ctx, page); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, first, "joined")
	if err := second.Navigate(ctx, page); err != nil {
		t.Fatal(err)
	}
	origClientExchange(ctx, t, first, second, "hello from the first tab", "hello back from the second tab")
}

// waitStatus waits until the stand-in's status is want, failing fast on
// "error" (a refused upgrade: the WebSocket never opens).
func waitStatus(ctx context.Context, t *testing.T, tab *browsertest.Tab, want string) {
	t.Helper()
	got, err := browsertest.WaitFor[string](ctx, tab,
		fmt.Sprintf(`(s => (s === %q || s === "error") && s)(window.origclient && window.origclient.status)`, want))
	if err != nil || got != want {
		t.Fatalf("%s: status %q (%v), want %q", tab.Name, got, err, want)
	}
}

// origClientExchange waits until the original client's two tabs have their
// `verytippers-data` channel open, sends text a from first to second and b
// back, and checks that neither tab saw an error or an exception.
func origClientExchange(ctx context.Context, t *testing.T, first, second *browsertest.Tab, a, b string) {
	t.Helper()
	for _, tab := range []*browsertest.Tab{first, second} {
		waitStatus(ctx, t, tab, "open")
		label, err := browsertest.Eval[string](ctx, tab, `window.origclient.label`)
		if err != nil || label != "verytippers-data" {
			t.Fatalf("%s: %q %v", tab.Name, label, err)
		}
	}
	for _, m := range []struct {
		from, to *browsertest.Tab
		text     string
	}{{first, second, a}, {second, first, b}} {
		if _, err := browsertest.Eval[bool](ctx, m.from, fmt.Sprintf("window.origclient.send(%q)", m.text)); err != nil {
			t.Fatal(err)
		}
		got, err := browsertest.WaitFor[string](ctx, m.to, "window.origclient.received[0]")
		if err != nil || got != m.text {
			t.Fatalf("%s received %q (%v), want %q", m.to.Name, got, err, m.text)
		}
	}
	for _, tab := range []*browsertest.Tab{first, second} {
		errs, err := browsertest.Eval[[]string](ctx, tab, "window.origclient.errors")
		if err != nil || len(errs) != 0 {
			t.Errorf("%s: errors %q %v", tab.Name, errs, err)
		}
		tab.CheckNoExceptions(t)
	}
}
