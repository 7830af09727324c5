package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestE2EOfflineDelivery: messages for an absent account wait in the
// sender's outbox and arrive when it connects; once its mail key is known,
// they are sealed into the server's mailbox and arrive after the sender
// quit and the server restarted.
func TestE2EOfflineDelivery(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	serverHome := t.TempDir()
	serve, url := startServeProc(ctx, t, "", "VTPEER_HOME="+serverHome)
	aKS, aPW, aAddr := newAccount(ctx, t)
	bKS, bPW, bAddr := newAccount(ctx, t)
	aHome, bHome := t.TempDir(), t.TempDir()
	net := []string{"--server", url, "--ice-loopback"}
	asA := append([]string{"--keystore", aKS, "--password-file", aPW, "--account", aAddr}, net...)
	asB := append([]string{"--keystore", bKS, "--password-file", bPW, "--account", bAddr}, net...)

	// 1. B is away and unknown: A's message waits in A's outbox, and is
	// delivered as soon as B joins.
	a := startProc(t, []string{"VTPEER_HOME=" + aHome}, append([]string{"join", "post", "--json", "--to", bAddr, "--send", "first", "--timeout", "60s"}, asA...)...)
	a.waitEvent(ctx, "joined")
	b := startProc(t, []string{"VTPEER_HOME=" + bHome}, append([]string{"join", "post", "--json", "--exit-after", "1", "--timeout", "60s"}, asB...)...)
	if m := b.waitEvent(ctx, "message"); m["text"] != "first" {
		t.Fatalf("B got %v", m)
	}
	if d := a.waitEvent(ctx, "delivered"); d["count"] != float64(1) || !strings.EqualFold(d["to"].(string), bAddr) {
		t.Fatalf("delivered event = %v", d)
	}
	if code := a.wait(ctx); code != 0 {
		t.Fatalf("A exit %d", code)
	}
	if code := b.wait(ctx); code != 0 {
		t.Fatalf("B exit %d", code)
	}

	// 2. B is away, A knows B's mail key: the message is deposited sealed
	// on the server and A quits.
	a = startProc(t, []string{"VTPEER_HOME=" + aHome}, append([]string{"join", "post", "--json", "--to", bAddr, "--send", "while you were away", "--timeout", "60s"}, asA...)...)
	if d := a.waitEvent(ctx, "deposited"); d["count"] != float64(1) {
		t.Fatalf("deposited event = %v", d)
	}
	if code := a.wait(ctx); code != 0 {
		t.Fatalf("A exit %d after depositing", code)
	}

	// 3. The server restarts; B joins and gets the mail, signed by A.
	addr := strings.TrimPrefix(url, "ws://")
	serve.interrupt()
	if code := serve.wait(ctx); code != 0 {
		t.Fatalf("serve exit %d", code)
	}
	startServeProc(ctx, t, addr, "VTPEER_HOME="+serverHome)
	b = startProc(t, []string{"VTPEER_HOME=" + bHome}, append([]string{"join", "post", "--json", "--exit-after", "1", "--timeout", "60s"}, asB...)...)
	m := b.waitEvent(ctx, "message")
	if m["text"] != "while you were away" || !strings.EqualFold(m["from"].(string), aAddr) || m["peer"] != "mailbox" {
		t.Fatalf("B got %v", m)
	}
	if code := b.wait(ctx); code != 0 {
		t.Fatalf("B exit %d", code)
	}
}

// TestE2EQueuedTip: `tip --queue` for an absent recipient whose mail key is
// known leaves the signed tip in the server's mailbox; the recipient
// verifies and forwards it when it joins; when the two meet later, the
// tipper's outbox copy is recognised as already accepted (no second
// payment) and the recipient's signed receipt reaches the tipper.
func TestE2EQueuedTip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	orch := &orchestratorStub{ok: map[string]int{}}
	hs := httptest.NewServer(orch)
	defer hs.Close()
	_, url := startServeProc(ctx, t, "", "VTPEER_HOME="+t.TempDir())
	aKS, aPW, aAddr := newAccount(ctx, t)
	bKS, bPW, bAddr := newAccount(ctx, t)
	aHome, bHome := t.TempDir(), t.TempDir()
	net := []string{"--server", url, "--ice-loopback", "--timeout", "60s"}
	asA := append([]string{"--keystore", aKS, "--password-file", aPW, "--account", aAddr}, net...)
	asB := append([]string{"--keystore", bKS, "--password-file", bPW, "--account", bAddr, "--forward", hs.URL + "/submit-meta"}, net...)

	// They meet once: A learns B's mail key.
	b := startProc(t, []string{"VTPEER_HOME=" + bHome}, append([]string{"join", "shop", "--json", "--exit-after", "1"}, asB...)...)
	b.waitEvent(ctx, "joined")
	a := startProc(t, []string{"VTPEER_HOME=" + aHome}, append([]string{"join", "shop", "--json", "--to", bAddr, "--send", "hello"}, asA...)...)
	a.waitEvent(ctx, "delivered")
	if a.wait(ctx) != 0 || b.wait(ctx) != 0 {
		t.Fatal("first meeting failed")
	}

	// B is away: the tip is queued and mailed.
	tip := startProc(t, []string{"VTPEER_HOME=" + aHome}, append([]string{"tip", "--room", "shop", "--to", bAddr, "--amount", "2", "--queue"}, asA...)...)
	line := tip.waitLine(ctx, "queued", func(l string) bool { return strings.Contains(l, "server's mailbox") })
	if code := tip.wait(ctx); code != 0 {
		t.Fatalf("tip --queue exit %d (%s)", code, line)
	}

	// B joins: the tip comes from the mailbox, verified and forwarded.
	b = startProc(t, []string{"VTPEER_HOME=" + bHome}, append([]string{"join", "shop", "--json"}, asB...)...)
	evs := b.waitEvents(ctx, "tip", "forward")
	ev := evs["tip"]
	if ev["verified"] != true || ev["peer"] != "mailbox" || ev["amountVery"] != "2" || !strings.EqualFold(ev["from"].(string), aAddr) {
		t.Fatalf("mailed tip event = %v", ev)
	}
	hash := ev["messageHash"].(string)
	if fw := evs["forward"]; fw["state"] != "forwarded" {
		t.Fatalf("forward = %v", fw)
	}

	// A comes back while B is there: A's outbox copy is already accepted
	// (no second tip, no second POST), and B's receipt reaches A.
	a = startProc(t, []string{"VTPEER_HOME=" + aHome}, append([]string{"join", "shop", "--json"}, asA...)...)
	evs = a.waitEvents(ctx, "receipt", "delivered") // in either order
	if r := evs["receipt"]; r["messageHash"] != hash || r["accepted"] != true || !strings.EqualFold(r["signer"].(string), bAddr) || r["signerValid"] != true {
		t.Fatalf("receipt at the tipper = %v", r)
	}
	if d := evs["delivered"]; d["count"] != float64(1) {
		t.Fatalf("delivered = %v", d)
	}
	a.interrupt()
	b.interrupt()
	a.wait(ctx)
	b.wait(ctx)
	if got := orch.delivered(); len(got) != 1 || got[hash] != 1 {
		t.Fatalf("orchestrator got %v, want exactly one POST for %s", got, hash)
	}
}
