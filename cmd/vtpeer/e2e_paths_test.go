package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestE2EViaServer: with --via server there is no WebRTC at all: chat and
// a tip travel sealed through the signaling server.
func TestE2EViaServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	tipKS, tipPW, tipAddr := newAccount(ctx, t)
	rcvKS, rcvPW, rcvAddr := newAccount(ctx, t)
	common := []string{"--server", url, "--via", "server", "--timeout", "60s"}

	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "relay", "--json", "--exit-after", "2",
		"--keystore", rcvKS, "--password-file", rcvPW}, common...)...)
	recv.waitEvent(ctx, "joined")
	send := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "relay", "--json", "--send", "over the server"}, common...)...)
	rc := recv.waitEvent(ctx, "peer-connected")
	sc := send.waitEvent(ctx, "peer-connected")
	if rc["path"] != "server" || sc["path"] != "server" || rc["sas"] != sc["sas"] {
		t.Fatalf("peer-connected: receiver %v, sender %v", rc, sc)
	}
	if m := recv.waitEvent(ctx, "message"); m["text"] != "over the server" {
		t.Fatalf("message = %v", m)
	}
	if code := send.wait(ctx); code != 0 {
		t.Fatalf("sender exit %d", code)
	}
	tip := startProc(t, nil, append([]string{"tip", "--room", "relay", "--to", rcvAddr, "--amount", "1.5",
		"--keystore", tipKS, "--password-file", tipPW, "--from", tipAddr}, common...)...)
	if ev := recv.waitEvent(ctx, "tip"); ev["verified"] != true || ev["amountVery"] != "1.5" {
		t.Fatalf("tip event = %v", ev)
	}
	if code := tip.wait(ctx); code != 0 {
		t.Fatalf("tip exit %d", code)
	}
	if code := recv.wait(ctx); code != 0 {
		t.Fatalf("receiver exit %d", code)
	}
}

// TestE2EViaTURN: serve runs the embedded TURN server; two --via turn peers
// connect over a relay candidate pair through it and chat. Both relays are
// allocations of the same server, so this works with the lockdown on
// (relay to relay on the server's own address, live allocations only) as
// well as with --turn-allow-loopback.
func TestE2EViaTURN(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		extra []string
	}{
		{"lockdown", nil},
		{"allow-loopback", []string{"--turn-allow-loopback"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			_, url := startServeArgs(ctx, t, nil, append([]string{"--addr", "127.0.0.1:0", "--turn", "--turn-addr", "127.0.0.1:0"}, tt.extra...)...)
			common := []string{"--server", url, "--via", "turn", "--ice-loopback", "--timeout", "60s"}
			recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "relayed", "--json", "--exit-after", "1"}, common...)...)
			recv.waitEvent(ctx, "joined")
			send := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "relayed", "--json", "--send", "via TURN"}, common...)...)
			for _, p := range []*proc{recv, send} {
				ev := p.waitEvent(ctx, "peer-connected")
				if ev["path"] != "turn" || ev["candidate"] != "relay" {
					t.Fatalf("peer-connected = %v, want path turn over a relay candidate", ev)
				}
			}
			if m := recv.waitEvent(ctx, "message"); m["text"] != "via TURN" {
				t.Fatalf("message = %v", m)
			}
			for _, p := range []*proc{recv, send} {
				if code := p.wait(ctx); code != 0 {
					t.Fatalf("exit %d: %s", code, strings.TrimSpace(p.stderr.String()))
				}
			}
		})
	}
}
