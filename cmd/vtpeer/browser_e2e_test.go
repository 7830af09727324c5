package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// The browser tests drive the page that `vtpeer serve` hosts in a real headless Chromium, as a
// person would (the chat box is the textbox named "Message"), against the real vtpeer binary.

// pageURL is the page of serve's ws URL for room, with optional query parameters.
func pageURL(wsURL, room, query string) string {
	u := "http://" + strings.TrimPrefix(wsURL, "ws://") + "/"
	if query != "" {
		u += "?" + query
	}
	return u + "#" + room
}

// openPage opens the page in a new isolated tab and waits until it has joined its room.
func openPage(ctx context.Context, t *testing.T, b *browsertest.Browser, name, url string) *browsertest.Tab {
	t.Helper()
	tab := b.NewTab(t, name)
	t.Cleanup(func() { tab.CheckNoExceptions(t) })
	if err := tab.Navigate(ctx, url); err != nil {
		t.Fatalf("%s: navigate: %v", name, err)
	}
	if _, err := browsertest.WaitFor[bool](ctx, tab, `document.getElementById('status').textContent.startsWith('joined') || document.getElementById('status').textContent.startsWith('room ')`); err != nil {
		t.Fatalf("%s: never joined: %v", name, err)
	}
	return tab
}

// pagePeer is a connected peer as the page shows it.
type pagePeer struct {
	ID      string `json:"id"`
	SAS     string `json:"sas"`
	Path    string `json:"path"`
	Address string `json:"address"`
}

// waitPagePeer waits until the page lists n connected peers and returns them.
func waitPagePeers(ctx context.Context, t *testing.T, tab *browsertest.Tab, n int) []pagePeer {
	t.Helper()
	js := fmt.Sprintf(`(() => { const l = [...document.querySelectorAll('#peers li[data-connected=true]')].map(e => ({id: e.dataset.peer, sas: e.dataset.sas, path: e.dataset.path, address: e.dataset.address})); return l.length >= %d && l; })()`, n)
	ps, err := browsertest.WaitFor[[]pagePeer](ctx, tab, js)
	if err != nil {
		t.Fatalf("page never showed %d connected peer(s): %v", n, err)
	}
	return ps
}

// byRole finds elements by ARIA role and accessible name, as assistive technology does
// (Accessibility.queryAXTree), not by CSS.
func byRole(role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{NodeID: n.NodeID, AccessibleName: name, Role: role})
		if err != nil {
			return nil, err
		}
		var ids []cdp.BackendNodeID
		for _, ax := range res.Nodes {
			if ax.BackendDOMNodeID != 0 && !ax.Ignored {
				ids = append(ids, ax.BackendDOMNodeID)
			}
		}
		if len(ids) == 0 {
			return nil, nil
		}
		pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: ids})
		return pushed.NodeIDs, err
	})
}

// typeInto types text into the textbox with the accessible name and presses Enter if asked.
func typeInto(ctx context.Context, t *testing.T, tab *browsertest.Tab, name, text string, enter bool) {
	t.Helper()
	if enter {
		text += "\r"
	}
	if err := tab.Do(ctx, chromedp.SendKeys(role("textbox", name), text, byRole("textbox", name))); err != nil {
		t.Fatalf("typing %q into %q: %v", text, name, err)
	}
}

// role is the label chromedp shows in errors for a byRole query.
func role(r, name string) string { return r + " " + strconvQuote(name) }

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

// typeMessage types text into the textbox named "Message" and presses Enter.
func typeMessage(ctx context.Context, t *testing.T, tab *browsertest.Tab, text string) {
	t.Helper()
	typeInto(ctx, t, tab, "Message", text, true)
}

// waitChat waits until the page shows a chat line with text from someone other than itself.
func waitChat(ctx context.Context, t *testing.T, tab *browsertest.Tab, text string) string {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = [...document.querySelectorAll('#chat-log li:not(.own)')].find(li => li.lastChild.textContent === %q); return e ? e.dataset.from : ''; })()`, text)
	from, err := browsertest.WaitFor[string](ctx, tab, js)
	if err != nil {
		t.Fatalf("page never showed chat %q: %v", text, err)
	}
	return from
}

// TestBrowserJoin: the page and `vtpeer join` meet in both join orders (page first, Go first),
// show the same SAS on a direct path and chat both ways.
func TestBrowserJoin(t *testing.T) {
	b := browsertest.Start(t)
	for _, pageFirst := range []bool{true, false} {
		name := map[bool]string{true: "page first", false: "go first"}[pageFirst]
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			_, url := startServeProc(ctx, t, "")
			room := "browser-" + strings.ReplaceAll(name, " ", "-")
			var tab *browsertest.Tab
			if pageFirst {
				tab = openPage(ctx, t, b, "page", pageURL(url, room, "debug"))
			}
			goPeer := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", room, "--json", "--server", url, "--ice-loopback", "--timeout", "30s", "--log-level", "debug")
			goPeer.waitEvent(ctx, "joined")
			if !pageFirst {
				tab = openPage(ctx, t, b, "page", pageURL(url, room, "debug"))
			}
			gc := goPeer.waitEvent(ctx, "peer-connected")
			ps := waitPagePeers(ctx, t, tab, 1)
			if gc["sas"] == "" || gc["sas"] != ps[0].SAS {
				t.Fatalf("SAS: go %v, page %q", gc["sas"], ps[0].SAS)
			}
			if gc["path"] != "direct" || ps[0].Path != "direct" {
				t.Errorf("path: go %v, page %q; want direct", gc["path"], ps[0].Path)
			}
			if gc["address"] == "" || !strings.EqualFold(fmt.Sprint(gc["address"]), pageAddress(ctx, t, tab)) {
				t.Errorf("go sees address %v, the page's is %s", gc["address"], pageAddress(ctx, t, tab))
			}
			typeMessage(ctx, t, tab, "hello from the page ✓")
			m := goPeer.waitEvent(ctx, "message")
			if m["text"] != "hello from the page ✓" || m["peer"] != gc["peer"] {
				t.Fatalf("go got %v", m)
			}
			if _, err := io.WriteString(goPeer.stdin, "hello from go\n"); err != nil {
				t.Fatal(err)
			}
			if from := waitChat(ctx, t, tab, "hello from go"); from != ps[0].ID {
				t.Errorf("chat from %q, want %q", from, ps[0].ID)
			}
		})
	}
}

// pageAddress is the address the page proves (its throwaway key).
func pageAddress(ctx context.Context, t *testing.T, tab *browsertest.Tab) string {
	t.Helper()
	a, err := browsertest.Eval[string](ctx, tab, `document.getElementById('own-address').textContent`)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
