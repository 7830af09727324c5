package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// view reads one `vtpeer join`'s session events from its stdout, as JSON events (--json) or as
// the status lines README shows a user, so that each test checks both forms.
type view struct {
	t    *testing.T
	p    *proc
	json bool
}

// get waits for the JSON event typ (returning its fields) or the first text line matching re
// (returning its submatches as fields named by keys).
func (v view) get(ctx context.Context, typ string, re *regexp.Regexp, keys ...string) map[string]any {
	v.t.Helper()
	if v.json {
		return v.p.waitEvent(ctx, typ)
	}
	var m []string
	v.p.waitLine(ctx, re.String(), func(l string) bool { m = re.FindStringSubmatch(l); return m != nil })
	ev := map[string]any{"type": typ}
	for i, k := range keys {
		if n, err := strconv.Atoi(m[i+1]); err == nil && k == "count" {
			ev[k] = float64(n) // as JSON numbers decode
		} else {
			ev[k] = m[i+1]
		}
	}
	return ev
}

var (
	reConnected   = regexp.MustCompile(`\* connected to \S+ via (the server relay) \(no direct path; still sealed end to end\) — SAS (\d{6}): compare it with your peer`)
	reLeft        = regexp.MustCompile(`\* \S+ left the room`)
	reUndelivLeft = regexp.MustCompile(`! (\d+) message\(s\) to \S+ not acknowledged: they may not have arrived`)
	reSASChanged  = regexp.MustCompile(`! \S+: the SAS changed from (\d{6}) to (\d{6}) — a new session: compare the new SAS with your peer again`)
	reUndelivSAS  = regexp.MustCompile(`! (\d+) message\(s\) to \S+ were never acknowledged and are NOT sent to its new session: compare the new SAS with your peer, then send them again`)
	reUndelivExit = regexp.MustCompile(`! leaving with (\d+) message\(s\) to \S+ not acknowledged: they may not have arrived`)
	reHSFailed    = regexp.MustCompile(`! \S+: handshake (\d+) did not finish \(([^)]*)\)(; stopped after \d+: possibly someone in the middle; type /retry \S+ to try again)?`)
	reRetrying    = regexp.MustCompile(`\* trying \S+ again; compare the SAS if it changes`)
)

func (v view) connected(ctx context.Context) string {
	v.t.Helper()
	ev := v.get(ctx, "peer-connected", reConnected, "path", "sas")
	if ev["path"] != "server" && ev["path"] != "the server relay" {
		v.t.Fatalf("peer-connected %v, want path server", ev)
	}
	return ev["sas"].(string)
}

func (v view) undelivered(ctx context.Context, when string, count int) {
	v.t.Helper()
	re := map[string]*regexp.Regexp{"left": reUndelivLeft, "sas-changed": reUndelivSAS, "exit": reUndelivExit}[when]
	ev := v.get(ctx, "undelivered", re, "count")
	if ev["count"] != float64(count) {
		v.t.Fatalf("undelivered %v, want count %d (%s)", ev, count, when)
	}
	if v.json {
		dropped := when == "sas-changed"
		if ev["when"] != when || (ev["dropped"] == true) != dropped || (dropped && ev["reason"] != "sas_changed") {
			v.t.Fatalf("undelivered %v, want when %s", ev, when)
		}
	}
}

func (v view) send(line string) {
	v.t.Helper()
	if _, err := io.WriteString(v.p.stdin, line+"\n"); err != nil {
		v.t.Fatal(err)
	}
}

// TestE2ESessionRestartUndelivered: real joins over the server relay, through a signaling
// server that drops the acknowledgements of one peer (b) to the other (a). a's messages to b are
// reported as undelivered when b leaves; a process that comes back under b's peer id anonymously
// (a restart, or an impostor the server lets in) is a new session — sas-changed — that does not
// get them: undelivered with reason sas_changed, and the first message it receives is one sent
// after; at a's exit, what is still unacknowledged is reported. Checked in --json and as text.
func TestE2ESessionRestartUndelivered(t *testing.T) {
	t.Parallel()
	for _, asJSON := range []bool{true, false} {
		t.Run(map[bool]string{true: "json", false: "text"}[asJSON], func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			_, upstream := startServeProc(ctx, t, "")
			px := newHostileProxy(t, upstream)
			common := []string{"--server", px.url(), "--via", "server", "--log-level", "debug"}
			args := append([]string{"join", "restart"}, common...)
			if asJSON {
				args = append(args, "--json")
			}
			a := view{t, startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, args...), asJSON}
			idA := px.waitJoined(ctx)
			b1 := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "restart", "--json"}, common...)...)
			idB := px.waitJoined(ctx)
			first := a.connected(ctx)
			if ev := b1.waitEvent(ctx, "peer-connected"); ev["sas"] != first {
				t.Fatalf("b1 %v, a's SAS %s", ev, first)
			}
			ackless := func(to string, f proxyFrame) bool { return to == idA && f.From == idB && f.relayT() == "sealed" }

			px.setDrop(ackless)
			a.send("secret one")
			a.send("secret two")
			for _, want := range []string{"secret one", "secret two"} {
				if m := b1.waitEvent(ctx, "message"); m["text"] != want {
					t.Fatalf("b1 got %v", m)
				}
			}
			b1.interrupt()
			b1.wait(ctx)
			a.get(ctx, "peer-left", reLeft)
			a.undelivered(ctx, "left", 2)

			px.setDrop(nil)
			px.renameNext(idB)
			b2 := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "restart", "--json"}, common...)...)
			if id := px.waitJoined(ctx); id != idB {
				t.Fatalf("b2 joined as %s, want %s", id, idB)
			}
			ch := a.get(ctx, "sas-changed", reSASChanged, "old", "new")
			a.undelivered(ctx, "sas-changed", 2)
			second := a.connected(ctx)
			if ch["old"] != first || ch["new"] != second || first == second {
				t.Fatalf("sas-changed %v; SAS %s then %s", ch, first, second)
			}
			if ev := b2.waitEvent(ctx, "peer-connected"); ev["sas"] != second {
				t.Fatalf("b2 %v, a's SAS %s", ev, second)
			}
			a.send("after the restart")
			if m := b2.waitEvent(ctx, "message"); m["text"] != "after the restart" {
				t.Fatalf("the new session received %v, sent to the old one", m)
			}
			// b2's answer carries its acknowledgement of everything before it.
			if _, err := io.WriteString(b2.stdin, "got it\n"); err != nil {
				t.Fatal(err)
			}
			a.get(ctx, "message", regexp.MustCompile(`<\S+>: got it`))

			px.setDrop(ackless)
			a.send("last words")
			if m := b2.waitEvent(ctx, "message"); m["text"] != "last words" {
				t.Fatalf("b2 got %v", m)
			}
			a.send("/quit")
			a.undelivered(ctx, "exit", 1)
			if code := a.p.wait(ctx); code != 0 {
				t.Fatalf("a exit %d", code)
			}
		})
	}
}

// TestE2EHandshakeFailedCapRetry: a signaling server grinding for a SAS (it starts handshakes
// with d in c's name and abandons each for a newer one, and hides c's own hellos) makes d report
// every unfinished handshake, stop after 5 until the user acts, and connect to c after /retry
// (on both sides: c counted its own lost hellos) once the server behaves. Checked in --json and
// as text.
func TestE2EHandshakeFailedCapRetry(t *testing.T) {
	t.Parallel()
	for _, asJSON := range []bool{true, false} {
		t.Run(map[bool]string{true: "json", false: "text"}[asJSON], func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			_, upstream := startServeProc(ctx, t, "")
			px := newHostileProxy(t, upstream)
			px.setDrop(func(_ string, f proxyFrame) bool { return f.Type == "relay" })
			common := []string{"--server", px.url(), "--via", "server", "--log-level", "debug"}
			args := append([]string{"join", "grind"}, common...)
			if asJSON {
				args = append(args, "--json")
			}
			d := view{t, startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, args...), asJSON}
			idD := px.waitJoined(ctx)
			c := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "grind", "--json"}, common...)...)
			idC := px.waitJoined(ctx)

			gen := uint64(time.Now().UnixNano()) + 1<<40 // newer than any transport c offered
			commit := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
			hello := fmt.Sprintf(`{"type":"hello","v":1,"role":"offerer","commit":"%s"}`, commit)
			for want := 1; want <= 5; want++ {
				gen++
				data, _ := json.Marshal(map[string]any{"gen": gen, "t": "hello", "b": base64.RawURLEncoding.EncodeToString([]byte(hello))})
				frame, _ := json.Marshal(map[string]any{"type": "relay", "room": "grind", "from": idC, "data": json.RawMessage(data)})
				px.inject(ctx, idD, frame)
				if want == 1 {
					continue // the first attempt fails when the second replaces it
				}
				ev := d.get(ctx, "handshake-failed", reHSFailed, "count", "reason", "capped")
				if asJSON {
					if ev["count"] != float64(want-1) || ev["capped"] != false || ev["peer"] != idC || ev["reason"] == "" {
						t.Fatalf("handshake-failed %v, want count %d", ev, want-1)
					}
				} else if ev["count"] != float64(want-1) || ev["capped"] != "" {
					t.Fatalf("handshake-failed %v, want count %d", ev, want-1)
				}
			}
			// The sixth abandoned attempt reaches the cap; later ones are not even answered.
			for i := 0; i < 2; i++ {
				gen++
				data, _ := json.Marshal(map[string]any{"gen": gen, "t": "hello", "b": base64.RawURLEncoding.EncodeToString([]byte(hello))})
				frame, _ := json.Marshal(map[string]any{"type": "relay", "room": "grind", "from": idC, "data": json.RawMessage(data)})
				px.inject(ctx, idD, frame)
			}
			ev := d.get(ctx, "handshake-failed", reHSFailed, "count", "reason", "capped")
			if asJSON && (ev["count"] != float64(5) || ev["capped"] != true) || !asJSON && (ev["count"] != float64(5) || ev["capped"] == "") {
				t.Fatalf("handshake-failed %v, want count 5, capped", ev)
			}

			// c's own hellos were dropped all along: it counts its failures too and, on a slow
			// machine, may have reached the cap as well. Both users type /retry.
			px.setDrop(nil)
			if _, err := io.WriteString(c.stdin, "/retry\n"); err != nil {
				t.Fatal(err)
			}
			d.send("/retry")
			if !asJSON {
				d.p.waitLine(ctx, "retry status", reRetrying.MatchString)
			}
			sas := d.connected(ctx)
			if ev := c.waitEvent(ctx, "peer-connected"); ev["sas"] != sas || ev["peer"] != idD {
				t.Fatalf("c %v, d's SAS %s", ev, sas)
			}
		})
	}
}

// TestE2EAccountRestartSASChanged: b's process restarts (a new process, a new peer id) and
// proves the same account: a reports sas-changed naming the account before the new session's
// peer-connected.
func TestE2EAccountRestartSASChanged(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	ks, pw, addr := newAccount(ctx, t)
	common := []string{"join", "acct", "--json", "--server", url, "--via", "server"}
	a := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, common...)
	a.waitEvent(ctx, "joined")
	withAccount := append(append([]string(nil), common...), "--keystore", ks, "--password-file", pw)
	b1 := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, withAccount...)
	first := a.waitEvent(ctx, "peer-connected")
	if !strings.EqualFold(fmt.Sprint(first["address"]), addr) {
		t.Fatalf("peer-connected %v, want address %s", first, addr)
	}
	b1.interrupt()
	b1.wait(ctx)
	a.waitEvent(ctx, "peer-left")
	b2 := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, withAccount...)
	ch := a.waitEvent(ctx, "sas-changed")
	second := a.waitEvent(ctx, "peer-connected")
	if ch["old"] != first["sas"] || ch["new"] != second["sas"] || !strings.EqualFold(fmt.Sprint(ch["address"]), addr) ||
		second["peer"] == first["peer"] {
		t.Fatalf("sas-changed %v; peer-connected %v then %v", ch, first, second)
	}
	if ev := b2.waitEvent(ctx, "peer-connected"); ev["sas"] != second["sas"] {
		t.Fatalf("b2 %v", ev)
	}
}
