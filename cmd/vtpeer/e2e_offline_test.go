package main

import (
	"context"
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
