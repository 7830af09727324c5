package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestE2EChat runs serve, a `join --json --exit-after` receiver and a
// `join --send` sender as three processes and checks what each prints.
func TestE2EChat(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	common := []string{"--server", url, "--ice-loopback", "--timeout", "60s", "--log-level", "debug"}

	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "lobby", "--json", "--exit-after", "2"}, common...)...)
	joined := recv.waitEvent(ctx, "joined")
	if joined["room"] != "lobby" || joined["peerId"] == "" {
		t.Fatalf("joined event = %v", joined)
	}
	send := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "lobby", "--json", "--send", "hello", "--send", "wörld ✓"}, common...)...)

	rc := recv.waitEvent(ctx, "peer-connected")
	sc := send.waitEvent(ctx, "peer-connected")
	if rc["sas"] == "" || rc["sas"] != sc["sas"] {
		t.Fatalf("SAS differ: receiver %v, sender %v", rc["sas"], sc["sas"])
	}
	if rc["path"] != "direct" || sc["path"] != "direct" {
		t.Errorf("path = %v / %v, want direct", rc["path"], sc["path"])
	}
	for _, want := range []string{"hello", "wörld ✓"} {
		m := recv.waitEvent(ctx, "message")
		if m["text"] != want || m["peer"] != rc["peer"] {
			t.Fatalf("message = %v, want text %q from %v", m, want, rc["peer"])
		}
	}
	if code := recv.wait(ctx); code != 0 {
		t.Errorf("receiver exit code %d, want 0", code)
	}
	if code := send.wait(ctx); code != 0 {
		t.Errorf("sender exit code %d, want 0", code)
	}
}

// TestE2EJoinTimeout: --timeout ends a receiver that got nothing, non-zero,
// with the reason.
func TestE2EJoinTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	p := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", "quiet", "--json", "--exit-after", "1", "--timeout", "300ms", "--server", url, "--ice-loopback")
	ev := p.waitEvent(ctx, "error")
	if ev["code"] != "timeout" || !strings.Contains(ev["error"].(string), "--exit-after") {
		t.Errorf("error event = %v", ev)
	}
	if code := p.wait(ctx); code != exitFailure {
		t.Errorf("exit code %d, want %d", code, exitFailure)
	}
}

// orchestratorStub is a real HTTP server standing in for the relayer: it
// records every POST and can be told to fail.
type orchestratorStub struct {
	mu      sync.Mutex
	failing bool
	ok      map[string]int // messageHash → 2xx answers
	failed  int
}

func (o *orchestratorStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	if r.URL.Path != "/submit-meta" || json.Unmarshal(b, &body) != nil {
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	for _, k := range []string{"from", "to", "amount", "cidHash", "nonce", "v", "r", "s", "signature", "messageHash"} {
		if _, ok := body[k]; !ok {
			http.Error(w, "missing "+k, http.StatusBadRequest)
			return
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failing {
		o.failed++
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	o.ok[body["messageHash"].(string)]++
	w.WriteHeader(http.StatusOK)
}

func (o *orchestratorStub) setFailing(v bool) {
	o.mu.Lock()
	o.failing = v
	o.mu.Unlock()
}

func (o *orchestratorStub) delivered() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for k, v := range o.ok {
		out[k] = v
	}
	return out
}

// TestE2ETipForwardReplayRestart: serve, a `join --json --forward` receiver
// and `tip` senders as processes. One valid POST per tip; a resent tip is a
// replay, also after the receiver restarts; a tip whose forward failed is
// delivered after the restart.
func TestE2ETipForwardReplayRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	orch := &orchestratorStub{ok: map[string]int{}}
	hs := httptest.NewServer(orch)
	defer hs.Close()
	_, url := startServeProc(ctx, t, "")
	tipKS, tipPW, tipAddr := newAccount(ctx, t)
	rcvKS, rcvPW, rcvAddr := newAccount(ctx, t)
	home := t.TempDir()

	startReceiver := func() *proc {
		p := startProc(t, []string{"VTPEER_HOME=" + home}, "join", "tips", "--json", "--server", url, "--ice-loopback",
			"--forward", hs.URL+"/submit-meta", "--keystore", rcvKS, "--password-file", rcvPW, "--account", rcvAddr)
		p.waitEvent(ctx, "joined")
		return p
	}
	tipArgs := []string{"--room", "tips", "--server", url, "--ice-loopback", "--timeout", "60s"}
	runTip := func(args ...string) (int, string) {
		p := startProc(t, nil, append(append([]string{"tip"}, tipArgs...), args...)...)
		code := p.wait(ctx)
		var out []string
		for l := range p.lines {
			out = append(out, l)
		}
		return code, strings.Join(out, "\n") + p.stderr.String()
	}
	signer := []string{"--keystore", tipKS, "--password-file", tipPW, "--from", tipAddr}

	// 1. A tip signed and sent by `vtpeer tip`: accepted, forwarded once.
	recv := startReceiver()
	code, out := runTip(append([]string{"--to", rcvAddr, "--amount", "5", "--cid", "thanks"}, signer...)...)
	if code != 0 || !strings.Contains(out, "ACCEPTED") || !strings.Contains(out, "signed by "+rcvAddr) {
		t.Fatalf("tip exit %d, output:\n%s", code, out)
	}
	// The forward may be reported before the tip event: read both, in either order.
	evs := recv.waitEvents(ctx, "tip", "forward")
	tip := evs["tip"]
	if tip["verified"] != true || tip["amountVery"] != "5" || tip["timestampSigned"] != true || !strings.EqualFold(tip["from"].(string), tipAddr) {
		t.Fatalf("tip event = %v", tip)
	}
	first := tip["messageHash"].(string)
	if fw := evs["forward"]; fw["state"] != "forwarded" || fw["messageHash"] != first {
		t.Fatalf("forward event = %v", fw)
	}

	// 2. A tip signed offline (--dry-run), sent with --signed, then again: replay.
	dry := startProc(t, nil, append([]string{"tip", "--dry-run", "--to", rcvAddr, "--amount", "0.25"}, signer...)...)
	signedJSON := dry.waitLine(ctx, "signed meta", func(l string) bool { return strings.HasPrefix(l, "{") })
	if code := dry.wait(ctx); code != 0 {
		t.Fatalf("tip --dry-run exit %d", code)
	}
	signedFile := filepath.Join(t.TempDir(), "tip.json")
	if err := os.WriteFile(signedFile, []byte(signedJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := runTip("--signed", signedFile); code != 0 {
		t.Fatalf("tip --signed exit %d:\n%s", code, out)
	}
	second := recv.waitEvents(ctx, "tip", "forward")["tip"]["messageHash"].(string)
	if code, out := runTip("--signed", signedFile); code != exitFailure || !strings.Contains(out, "replay") {
		t.Fatalf("replayed tip: exit %d, want %d with reason replay:\n%s", code, exitFailure, out)
	}
	if ev := recv.waitEvent(ctx, "tip"); ev["verified"] != false || ev["code"] != "replay" {
		t.Fatalf("replay tip event = %v", ev)
	}

	// 3. The orchestrator is down: the tip is accepted, its forward stays queued.
	orch.setFailing(true)
	if code, out := runTip(append([]string{"--to", rcvAddr, "--amount-wei", "7"}, signer...)...); code != 0 {
		t.Fatalf("third tip exit %d:\n%s", code, out)
	}
	evs = recv.waitEvents(ctx, "tip", "forward")
	third := evs["tip"]["messageHash"].(string)
	if fw := evs["forward"]; fw["state"] != "queued" || fw["messageHash"] != third {
		t.Fatalf("forward event while failing = %v", fw)
	}
	recv.interrupt()
	if code := recv.wait(ctx); code != 0 {
		t.Fatalf("receiver exit %d after interrupt", code)
	}

	// 4. Restart: the queued tip is delivered; the replay is still refused.
	orch.setFailing(false)
	recv = startReceiver()
	if fw := recv.waitEvent(ctx, "forward"); fw["state"] != "forwarded" || fw["messageHash"] != third {
		t.Fatalf("forward after restart = %v", fw)
	}
	if code, out := runTip("--signed", signedFile); code != exitFailure || !strings.Contains(out, "replay") {
		t.Fatalf("replay after restart: exit %d:\n%s", code, out)
	}
	got := orch.delivered()
	for _, h := range []string{first, second, third} {
		if got[h] != 1 {
			t.Errorf("orchestrator got %d successful POSTs for %s, want 1", got[h], h)
		}
	}
	if len(got) != 3 {
		t.Errorf("orchestrator got %d distinct tips, want 3: %v", len(got), got)
	}
}
