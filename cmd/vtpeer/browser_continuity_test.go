package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// TestBrowserContinuity: a page ↔ `vtpeer join` session survives a forced transport change with
// the same SAS and no message lost or doubled. The page drops its transport (a new PeerConnection,
// or a new server-relay transport after a tagged relay close); the new transport's seal handshake
// is a version 2 hello naming the retained continuity secret, which the Go peer requires once the
// chain is confirmed (it refuses a handshake that does not continue with continuity_failed).
func TestBrowserContinuity(t *testing.T) {
	b := browsertest.Start(t)
	vtpeerBin(t) // build before the deadlines start
	for _, tc := range []struct{ name, query, goVia, path string }{
		{"new peerconnection", "debug", "auto", "direct"},
		{"server relay", "debug&via=server", "auto", "server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			_, url := startServeProc(ctx, t, "")
			room := "cont-" + strings.ReplaceAll(tc.name, " ", "-")
			goPeer := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", room, "--json", "--server", url, "--ice-loopback",
				"--via", tc.goVia, "--timeout", "80s", "--log-level", "debug")
			goPeer.waitEvent(ctx, "joined")
			tab := openPage(ctx, t, b, "page", pageURL(url, room, tc.query))
			gc := goPeer.waitEvent(ctx, "peer-connected")
			ps := waitPagePeers(ctx, t, tab, 1)
			sas := ps[0].SAS
			if gc["sas"] != sas || ps[0].Path != tc.path {
				t.Fatalf("first session: go %v, page %+v", gc, ps[0])
			}
			// Both directions carry a frame after the start frames: each side confirms the chain.
			typeMessage(ctx, t, tab, "before")
			if m := goPeer.waitEvent(ctx, "message"); m["text"] != "before" {
				t.Fatalf("go got %v", m)
			}
			if _, err := io.WriteString(goPeer.stdin, "before from go\n"); err != nil {
				t.Fatal(err)
			}
			waitChat(ctx, t, tab, "before from go")
			if _, err := browsertest.WaitFor[bool](ctx, tab, fmt.Sprintf(`vtpeerRoom.node.peers.get(%q).cont.confirmed`, ps[0].ID)); err != nil {
				t.Fatalf("the page never confirmed the chain: %v", err)
			}

			// Drop the page's transport and send at once: the message waits in the outbox and
			// goes out on the next transport, exactly once.
			drop := fmt.Sprintf(`(() => { const p = vtpeerRoom.node.peers.get(%q); const gen = String(p.link.gen); p.link.close('test: transport dropped'); return gen; })()`, ps[0].ID)
			oldGen, err := browsertest.Eval[string](ctx, tab, drop)
			if err != nil {
				t.Fatal(err)
			}
			typeMessage(ctx, t, tab, "during")
			ev := goPeer.waitLine(ctx, "the session back", func(l string) bool {
				return strings.Contains(l, `"type":"peer-connected"`) || strings.Contains(l, `"type":"path-changed"`)
			})
			var back map[string]any
			if err := json.Unmarshal([]byte(ev), &back); err != nil {
				t.Fatal(err)
			}
			if back["sas"] != sas {
				t.Fatalf("go after the transport change: %v, want SAS %s", back, sas)
			}
			js := fmt.Sprintf(`(() => { const p = vtpeerRoom.node.peers.get(%q); return p.connected && p.link && String(p.link.gen) !== %q && {sas: p.conn.sas, v: p.link.sess.version, continued: p.link.sess.continued}; })()`, ps[0].ID, oldGen)
			type sess struct {
				SAS       string `json:"sas"`
				V         int    `json:"v"`
				Continued bool   `json:"continued"`
			}
			got, err := browsertest.WaitFor[sess](ctx, tab, js)
			if err != nil {
				t.Fatalf("page never reconnected: %v", err)
			}
			if got.SAS != sas || got.V != 2 || !got.Continued {
				t.Fatalf("page after the transport change: %+v, want SAS %s continued v2", got, sas)
			}
			if m := goPeer.waitEvent(ctx, "message"); m["text"] != "during" {
				t.Fatalf("go got %v after the change, want during", m)
			}
			if _, err := io.WriteString(goPeer.stdin, "after from go\n"); err != nil {
				t.Fatal(err)
			}
			waitChat(ctx, t, tab, "after from go")
			typeMessage(ctx, t, tab, "after")
			if m := goPeer.waitEvent(ctx, "message"); m["text"] != "after" {
				t.Fatalf("go got %v, want after (nothing doubled)", m)
			}
			for _, l := range goPeer.seen {
				if strings.Contains(l, `"sas-changed"`) || strings.Contains(l, `"handshake-failed"`) {
					t.Errorf("go reported %s", l)
				}
			}
			if strings.Contains(goPeer.stderr.String(), "unauthenticated relay close") {
				t.Errorf("go ignored the page's relay close:\n%s", goPeer.stderr.String())
			}
			n, err := browsertest.Eval[int](ctx, tab, `[...document.querySelectorAll('#chat-log li:not(.own)')].length`)
			if err != nil || n != 2 {
				t.Errorf("page shows %d chat lines from go (err %v), want 2", n, err)
			}
		})
	}
}
