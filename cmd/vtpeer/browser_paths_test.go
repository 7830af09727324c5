package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// TestBrowserViaTURN: `vtpeer serve --turn` hands the page TURN credentials in joined.iceServers;
// the page with ?via=turn and `vtpeer join --via turn` meet over a relay ↔ relay candidate pair
// of the embedded TURN server, both report the path turn with the same SAS, and chat both ways.
func TestBrowserViaTURN(t *testing.T) {
	b := browsertest.Start(t)
	vtpeerBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, url := startServeArgs(ctx, t, nil, "--addr", "127.0.0.1:0", "--turn", "--turn-addr", "127.0.0.1:0")
	g := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", "turned", "--json", "--server", url, "--via", "turn", "--ice-loopback", "--timeout", "60s")
	g.waitEvent(ctx, "joined")
	tab := openPage(ctx, t, b, "page", pageURL(url, "turned", "via=turn"))
	gc := g.waitEvent(ctx, "peer-connected")
	ps := waitPagePeers(ctx, t, tab, 1)
	if gc["path"] != "turn" || gc["candidate"] != "relay" || ps[0].Path != "turn" || gc["sas"] != ps[0].SAS {
		t.Fatalf("go %v, page %+v; want path turn, the same SAS", gc, ps[0])
	}
	pair, err := browsertest.Eval[string](ctx, tab, fmt.Sprintf(`(async () => {
		const st = await vtpeerRoom.node.peers.get(%q).link.pc.getStats();
		let pair = null;
		st.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = st.get(s.selectedCandidatePairId); });
		return pair ? st.get(pair.localCandidateId).candidateType + '-' + st.get(pair.remoteCandidateId).candidateType : 'none';
	})()`, ps[0].ID))
	if err != nil || pair != "relay-relay" {
		t.Fatalf("the page's selected candidate pair is %q (%v), want relay-relay", pair, err)
	}
	typeMessage(ctx, t, tab, "through the relay")
	if m := g.waitEvent(ctx, "message"); m["text"] != "through the relay" {
		t.Fatalf("go got %v", m)
	}
	if _, err := io.WriteString(g.stdin, "relayed back\n"); err != nil {
		t.Fatal(err)
	}
	waitChat(ctx, t, tab, "relayed back")
}

// walletJS is a test-only EIP-1193 provider injected before the page's scripts run: it holds a
// known key and signs with the page's own vendored noble code (eth.js), like a wallet would,
// recording each method asked of it in window.walletCalls.
const walletJS = `(() => {
	const key = %q;
	const calls = (window.walletCalls = []);
	window.ethereum = {
		async request({ method, params }) {
			calls.push(method);
			const eth = await import('/js/eth.js');
			const bytes = await import('/js/bytes.js');
			const priv = bytes.fromHex(key);
			const account = eth.privToAddress(priv).toLowerCase();
			if (method === 'eth_requestAccounts') return [account];
			if (method === 'personal_sign') {
				if (params[1] !== account) throw Object.assign(new Error('unknown account ' + params[1]), { code: 4100 });
				return '0x' + bytes.toHex(await eth.personalSignWithKey(priv, bytes.fromHex(params[0].slice(2))));
			}
			throw Object.assign(new Error('unsupported method ' + method), { code: 4200 });
		},
	};
})();`

// TestBrowserWallet: with an injected EIP-1193 wallet, the user picks "Use my wallet" before
// joining; the page proves the wallet's account to a `vtpeer join` (the same address), and a
// tip typed into the page is signed by the wallet, verified and forwarded once by
// `vtpeer join --forward`, with the receipt shown.
func TestBrowserWallet(t *testing.T) {
	b := browsertest.Start(t)
	vtpeerBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	wallet := crypto.PubkeyToAddress(key.PublicKey).Hex()
	orch := &orchestratorStub{ok: map[string]int{}}
	hs := httptest.NewServer(orch)
	defer hs.Close()
	_, url := startServeProc(ctx, t, "")
	ks, pw, addr := newAccount(ctx, t)
	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", "wallet", "--json", "--server", url, "--ice-loopback",
		"--forward", hs.URL+"/submit-meta", "--keystore", ks, "--password-file", pw, "--account", addr)
	recv.waitEvent(ctx, "joined")

	tab := b.NewTab(t, "wallet")
	t.Cleanup(func() { tab.CheckNoExceptions(t) })
	inject := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(walletJS, hex.EncodeToString(crypto.FromECDSA(key)))})
		return err
	})
	if err := tab.Do(ctx, inject); err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, strings.Replace(url, "ws://", "http://", 1)+"/"); err != nil {
		t.Fatal(err)
	}
	clickButton(ctx, t, tab, "Use my wallet")
	if _, err := browsertest.WaitFor[bool](ctx, tab, fmt.Sprintf(`document.getElementById('own-address').textContent === %q`, wallet)); err != nil {
		t.Fatalf("the page never showed the wallet's account %s: %v", wallet, err)
	}
	typeInto(ctx, t, tab, "Room", "wallet", false)
	clickButton(ctx, t, tab, "Join")

	gc := recv.waitEvent(ctx, "peer-connected")
	if !strings.EqualFold(fmt.Sprint(gc["address"]), wallet) {
		t.Fatalf("go sees the page prove %v, the wallet is %s", gc["address"], wallet)
	}
	ps := waitPagePeers(ctx, t, tab, 1)
	if ps[0].SAS != gc["sas"] || !strings.EqualFold(ps[0].Address, addr) {
		t.Fatalf("page %+v, go %v", ps[0], gc)
	}
	typeInto(ctx, t, tab, "To (address)", addr, false)
	typeInto(ctx, t, tab, "Amount (VERY)", "0.25", false)
	clickButton(ctx, t, tab, "Send tip")
	evs := recv.waitEvents(ctx, "tip", "forward")
	tip := evs["tip"]
	if tip["verified"] != true || tip["amountVery"] != "0.25" || !strings.EqualFold(fmt.Sprint(tip["from"]), wallet) {
		t.Fatalf("go judged the wallet's tip: %v", tip)
	}
	hash := tip["messageHash"].(string)
	if fw := evs["forward"]; fw["state"] != "forwarded" || fw["messageHash"] != hash {
		t.Fatalf("forward event %v", fw)
	}
	r, err := browsertest.WaitFor[map[string]string](ctx, tab, `(() => { const e = document.querySelector('#tips li[data-kind=receipt]'); return e && {accepted: e.dataset.accepted, hash: e.dataset.hash}; })()`)
	if err != nil || r["accepted"] != "true" || !strings.EqualFold(r["hash"], hash) {
		t.Fatalf("receipt in the page: %v (%v), tip %s", r, err, hash)
	}
	calls, err := browsertest.Eval[[]string](ctx, tab, `window.walletCalls`)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(calls, " "), "personal_sign"); calls[0] != "eth_requestAccounts" || n < 2 {
		t.Fatalf("wallet calls %v: want the account, then personal_sign for the identity and the tip", calls)
	}
	orch.mu.Lock()
	n := orch.ok[hash]
	orch.mu.Unlock()
	if n != 1 {
		t.Fatalf("orchestrator got the tip %d times, want once", n)
	}
}

// TestBrowserRefusesNewSession: once the page's session with a Go peer is confirmed, a process
// that takes over that peer's id (a signaling server letting an impostor in with the peer's resume
// secret: no peer-left, the same id) and starts a handshake that does not continue the session is
// refused by the page with continuity_failed; the page's unacknowledged message is not resent to
// it, and the page waits for the user (Retry).
func TestBrowserRefusesNewSession(t *testing.T) {
	b := browsertest.Start(t)
	vtpeerBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, upstream := startServeProc(ctx, t, "")
	px := newHostileProxy(t, upstream)
	tab := openPage(ctx, t, b, "page", pageURL(upstream, "takeover", "debug&via=server"))
	pageID, err := browsertest.Eval[string](ctx, tab, `vtpeerRoom.signal.peerId`)
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"join", "takeover", "--json", "--server", px.url(), "--via", "server", "--timeout", "60s", "--log-level", "debug"}
	b1 := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, common...)
	idB := px.waitJoined(ctx)
	first := b1.waitEvent(ctx, "peer-connected")
	ps := waitPagePeers(ctx, t, tab, 1)
	if ps[0].ID != idB || ps[0].SAS != first["sas"] || ps[0].Path != "server" {
		t.Fatalf("page %+v, go %v", ps[0], first)
	}
	typeMessage(ctx, t, tab, "hello b1")
	if m := b1.waitEvent(ctx, "message"); m["text"] != "hello b1" {
		t.Fatalf("b1 got %v", m)
	}
	if _, err := io.WriteString(b1.stdin, "hello page\n"); err != nil {
		t.Fatal(err)
	}
	waitChat(ctx, t, tab, "hello page")
	if _, err := browsertest.WaitFor[bool](ctx, tab, fmt.Sprintf(`vtpeerRoom.node.peers.get(%q).cont.confirmed`, idB)); err != nil {
		t.Fatalf("the page never confirmed the chain: %v", err)
	}

	// The page's next message never reaches b1: it stays unacknowledged in the page's outbox.
	px.setDrop(func(to string, f proxyFrame) bool { return to == idB && f.From == pageID && f.relayT() == "sealed" })
	typeMessage(ctx, t, tab, "unacknowledged")
	if _, err := browsertest.WaitFor[bool](ctx, tab, fmt.Sprintf(`vtpeerRoom.node.peers.get(%q).outbox.length === 1`, idB)); err != nil {
		t.Fatal(err)
	}
	px.setDrop(nil)
	px.impersonateNext(idB)
	b2 := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, common...)
	if id := px.waitJoined(ctx); id != idB {
		t.Fatalf("the impostor joined as %s, want %s", id, idB)
	}
	js := fmt.Sprintf(`(() => { const li = document.querySelector('#peers li[data-peer=%q]'); const log = document.getElementById('log').textContent;
		return li && li.dataset.stopped === 'true' && log.includes('continuity_failed') && !!document.querySelector('#peers button[data-retry]'); })()`, idB)
	if _, err := browsertest.WaitFor[bool](ctx, tab, js); err != nil {
		t.Fatalf("the page never refused the new session (continuity_failed, stopped, Retry): %v", err)
	}
	b2.waitEvent(ctx, "handshake-failed")
	for _, l := range b2.seen {
		if strings.Contains(l, `"type":"message"`) || strings.Contains(l, `"type":"peer-connected"`) {
			t.Fatalf("the impostor got %s", l)
		}
	}
	if n, err := browsertest.Eval[int](ctx, tab, fmt.Sprintf(`vtpeerRoom.node.peers.get(%q).outbox.length`, idB)); err != nil || n != 1 {
		t.Fatalf("page outbox %d (%v), want the unacknowledged message kept", n, err)
	}
	if alerts, _ := browsertest.Eval[string](ctx, tab, `document.getElementById('alerts').textContent`); strings.Contains(alerts, "numbers changed") {
		t.Fatalf("the page took the impostor as a new session: %s", alerts)
	}
}
