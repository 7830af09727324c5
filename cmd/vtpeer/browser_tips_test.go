package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// clickButton presses the button with the accessible name.
func clickButton(ctx context.Context, t *testing.T, tab *browsertest.Tab, name string) {
	t.Helper()
	if err := tab.Do(ctx, chromedp.Click(role("button", name), byRole("button", name))); err != nil {
		t.Fatalf("clicking %q: %v", name, err)
	}
}

// TestBrowserTipForwarded: a tip typed into the page's form is signed in the page, sent only to
// the `vtpeer join --forward` peer proving the recipient's address, verified there, forwarded
// once to the orchestrator, and the signed receipt is shown in the page.
func TestBrowserTipForwarded(t *testing.T) {
	b := browsertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	orch := &orchestratorStub{ok: map[string]int{}}
	hs := httptest.NewServer(orch)
	defer hs.Close()
	_, url := startServeProc(ctx, t, "")
	ks, pw, addr := newAccount(ctx, t)
	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", "tipping", "--json", "--server", url, "--ice-loopback",
		"--forward", hs.URL+"/submit-meta", "--keystore", ks, "--password-file", pw, "--account", addr)
	recv.waitEvent(ctx, "joined")
	tab := openPage(ctx, t, b, "tipper", pageURL(url, "tipping", ""))
	ps := waitPagePeers(ctx, t, tab, 1)
	if !strings.EqualFold(ps[0].Address, addr) {
		t.Fatalf("page shows address %q, go proves %s", ps[0].Address, addr)
	}
	typeInto(ctx, t, tab, "To (address)", strings.ToLower(addr), false)
	typeInto(ctx, t, tab, "Amount (VERY)", "1.5", false)
	typeInto(ctx, t, tab, "CID (optional)", "bafy-browser", false)
	clickButton(ctx, t, tab, "Send tip")
	evs := recv.waitEvents(ctx, "tip", "forward")
	tip := evs["tip"]
	from := pageAddress(ctx, t, tab)
	if tip["verified"] != true || tip["amountVery"] != "1.5" || tip["cid"] != "bafy-browser" || tip["timestampSigned"] != true || !strings.EqualFold(tip["from"].(string), from) {
		t.Fatalf("go judged the page's tip: %v", tip)
	}
	hash := tip["messageHash"].(string)
	if fw := evs["forward"]; fw["state"] != "forwarded" || fw["messageHash"] != hash {
		t.Fatalf("forward event %v", fw)
	}
	js := `(() => { const e = document.querySelector('#tips li[data-kind=receipt]'); return e && {accepted: e.dataset.accepted, signer: e.dataset.signer, hash: e.dataset.hash}; })()`
	r, err := browsertest.WaitFor[map[string]string](ctx, tab, js)
	if err != nil {
		t.Fatalf("no receipt in the page: %v", err)
	}
	if r["accepted"] != "true" || !strings.EqualFold(r["signer"], addr) || !strings.EqualFold(r["hash"], hash) {
		t.Fatalf("receipt in the page: %v (tip %s by %s)", r, hash, addr)
	}
	orch.mu.Lock()
	n := orch.ok[hash]
	orch.mu.Unlock()
	if n != 1 {
		t.Fatalf("orchestrator got the tip %d times, want once", n)
	}
}

// TestBrowserReceivesTip: `vtpeer tip` to the page's (throwaway) address is verified in the page,
// shown, and answered with a receipt signed by the page's key, which the CLI checks (exit 0).
func TestBrowserReceivesTip(t *testing.T) {
	b := browsertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	tab := openPage(ctx, t, b, "receiver", pageURL(url, "gifts", ""))
	to := pageAddress(ctx, t, tab)
	ks, pw, from := newAccount(ctx, t)
	p := startProc(t, nil, "tip", "--room", "gifts", "--server", url, "--ice-loopback", "--timeout", "60s",
		"--keystore", ks, "--password-file", pw, "--from", from, "--to", to, "--amount", "2", "--cid", "from-cli")
	code := p.wait(ctx)
	var out []string
	for l := range p.lines {
		out = append(out, l)
	}
	text := strings.Join(out, "\n")
	if code != 0 || !strings.Contains(text, "ACCEPTED") || !strings.Contains(strings.ToLower(text), "signed by "+strings.ToLower(to)) {
		t.Fatalf("tip exit %d:\n%s\n%s", code, text, p.stderr.String())
	}
	js := `(() => { const e = document.querySelector('#tips li[data-kind=received]'); return e && {verified: e.dataset.verified, text: e.textContent}; })()`
	r, err := browsertest.WaitFor[map[string]string](ctx, tab, js)
	if err != nil {
		t.Fatalf("the page shows no received tip: %v", err)
	}
	if r["verified"] != "true" || !strings.Contains(r["text"], "2 VERY") || !strings.Contains(strings.ToLower(r["text"]), strings.ToLower(from)) {
		t.Fatalf("page shows %v", r)
	}
}

// TestBrowserTwoTabs: two tabs of the page meet, show the same SAS and chat both ways.
func TestBrowserTwoTabs(t *testing.T) {
	b := browsertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	a := openPage(ctx, t, b, "tab-a", pageURL(url, "tabs", ""))
	c := openPage(ctx, t, b, "tab-b", pageURL(url, "tabs", ""))
	pa, pc := waitPagePeers(ctx, t, a, 1), waitPagePeers(ctx, t, c, 1)
	if pa[0].SAS == "" || pa[0].SAS != pc[0].SAS || pa[0].Path != "direct" {
		t.Fatalf("tabs: %v / %v", pa, pc)
	}
	if !strings.EqualFold(pa[0].Address, pageAddress(ctx, t, c)) || !strings.EqualFold(pc[0].Address, pageAddress(ctx, t, a)) {
		t.Fatalf("proven addresses %s / %s", pa[0].Address, pc[0].Address)
	}
	typeMessage(ctx, t, a, "ping from a")
	waitChat(ctx, t, c, "ping from a")
	typeMessage(ctx, t, c, "pong from b")
	waitChat(ctx, t, a, "pong from b")
}

// TestBrowserViaServer: the page and `vtpeer join --via server` talk over the sealed server
// relay in both join orders (the page falls back after its p2p timeout when it is the offerer);
// the page shows the path "server" and the same SAS.
func TestBrowserViaServer(t *testing.T) {
	vtpeerBin(t) // build before the 60 s clocks below start
	b := browsertest.Start(t)
	for _, pageFirst := range []bool{true, false} {
		name := map[bool]string{true: "page first", false: "go first"}[pageFirst]
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, url := startServeProc(ctx, t, "")
			room := "relay-" + strings.ReplaceAll(name, " ", "-")
			page := pageURL(url, room, "p2pTimeout=2000")
			var tab *browsertest.Tab
			if pageFirst {
				tab = openPage(ctx, t, b, "page", page)
			}
			g := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", room, "--json", "--via", "server", "--server", url, "--ice-loopback", "--timeout", "50s")
			g.waitEvent(ctx, "joined")
			if !pageFirst {
				tab = openPage(ctx, t, b, "page", page)
			}
			gc := g.waitEvent(ctx, "peer-connected")
			ps := waitPagePeers(ctx, t, tab, 1)
			if gc["path"] != "server" || ps[0].Path != "server" || gc["sas"] != ps[0].SAS {
				t.Fatalf("go %v, page %v", gc, ps[0])
			}
			typeMessage(ctx, t, tab, "over the relay")
			if m := g.waitEvent(ctx, "message"); m["text"] != "over the relay" {
				t.Fatalf("go got %v", m)
			}
			if _, err := g.stdin.Write([]byte("relay reply\n")); err != nil {
				t.Fatal(err)
			}
			waitChat(ctx, t, tab, "relay reply")
		})
	}
}

// TestBrowserScreenshot takes the README's screenshot of the page mid-session (chat and a tip
// with its receipt) when VTPEER_SCREENSHOT=1, writing docs/img/browser.png.
func TestBrowserScreenshot(t *testing.T) {
	if os.Getenv("VTPEER_SCREENSHOT") != "1" {
		t.Skip("set VTPEER_SCREENSHOT=1 to rewrite docs/img/browser.png")
	}
	b := browsertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	ks, pw, addr := newAccount(ctx, t)
	g := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", "myroom", "--json", "--server", url, "--ice-loopback",
		"--keystore", ks, "--password-file", pw, "--account", addr)
	g.waitEvent(ctx, "joined")
	tab := openPage(ctx, t, b, "page", pageURL(url, "myroom", ""))
	waitPagePeers(ctx, t, tab, 1)
	typeMessage(ctx, t, tab, "Hi! Reading our SAS aloud: does yours match?")
	g.waitEvent(ctx, "message")
	if _, err := g.stdin.Write([]byte("It matches. Thanks for the stream!\n")); err != nil {
		t.Fatal(err)
	}
	waitChat(ctx, t, tab, "It matches. Thanks for the stream!")
	typeInto(ctx, t, tab, "To (address)", addr, false)
	typeInto(ctx, t, tab, "Amount (VERY)", "5", false)
	clickButton(ctx, t, tab, "Send tip")
	if _, err := browsertest.WaitFor[bool](ctx, tab, `!!document.querySelector('#tips li[data-kind=receipt]')`); err != nil {
		t.Fatal(err)
	}
	if err := tab.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	png, err := browsertest.Run(ctx, tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join("..", "..", "docs", "img", "browser.png")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", dst, len(png))
}
