package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// TestBrowserClusterFailover: the page is given two nodes of a three-node
// cluster (serve --web-signal A,B: /config.json and the CSP) and joins
// through A; a `vtpeer join` on node C
// opens a DataChannel session with it. Node A is killed (SIGKILL): the
// page moves on to B with the same
// peer id (resume), and the DataChannel session goes on, on the same
// transport, both ways.
func TestBrowserClusterFailover(t *testing.T) {
	b := browsertest.Start(t)
	vtpeerBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	http := freeAddrs(t, 3)
	list := "ws://" + http[0] + "/ws,ws://" + http[1] + "/ws"
	nodes := startClusterAt(ctx, t, http, "--no-mailbox", "--web-signal", list)
	room := "browser-failover"
	goPeer := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", room, "--json", "--server", nodes[2].url,
		"--ice-loopback", "--timeout", "100s", "--log-level", "debug")
	goPeer.waitEvent(ctx, "joined")
	tab := openPage(ctx, t, b, "page", pageURL(nodes[0].url, room, "debug"))
	gc := goPeer.waitEvent(ctx, "peer-connected")
	ps := waitPagePeers(ctx, t, tab, 1)
	if gc["sas"] == "" || gc["sas"] != ps[0].SAS || ps[0].Path != "direct" {
		t.Fatalf("session across nodes: go %v, page %+v", gc, ps[0])
	}
	type state struct {
		URL    string `json:"url"`
		PeerID string `json:"peerId"`
		Gen    string `json:"gen"`
	}
	js := fmt.Sprintf(`(() => { const s = vtpeerRoom.signal, p = vtpeerRoom.node.peers.get(%q); return s.joined && p && p.link && {url: s.url, peerId: s.peerId, gen: String(p.link.gen)}; })()`, ps[0].ID)
	before, err := browsertest.WaitFor[state](ctx, tab, js)
	if err != nil {
		t.Fatal(err)
	}
	if before.URL != nodes[0].url+"/ws" || before.PeerID != gc["peer"] {
		t.Fatalf("page before the failover: %+v, want on %s/ws as %v", before, nodes[0].url, gc["peer"])
	}
	typeMessage(ctx, t, tab, "before")
	if m := goPeer.waitEvent(ctx, "message"); m["text"] != "before" {
		t.Fatalf("go got %v", m)
	}

	_ = nodes[0].proc.cmd.Process.Kill() // kill -9
	<-nodes[0].proc.done
	back := fmt.Sprintf(`(() => { const s = vtpeerRoom.signal, p = vtpeerRoom.node.peers.get(%q); return s.joined && s.url === %q && p && p.link && {url: s.url, peerId: s.peerId, gen: String(p.link.gen)}; })()`, ps[0].ID, nodes[1].url+"/ws")
	after, err := browsertest.WaitFor[state](ctx, tab, back)
	if err != nil {
		t.Fatalf("the page never rejoined through node 1: %v", err)
	}
	if after.PeerID != before.PeerID || after.Gen != before.Gen {
		t.Fatalf("page after the failover: %+v, want peer id %s on transport %s", after, before.PeerID, before.Gen)
	}
	typeMessage(ctx, t, tab, "after")
	if m := goPeer.waitEvent(ctx, "message"); m["text"] != "after" {
		t.Fatalf("go got %v after the failover", m)
	}
	if _, err := io.WriteString(goPeer.stdin, "after from go\n"); err != nil {
		t.Fatal(err)
	}
	if from := waitChat(ctx, t, tab, "after from go"); from != ps[0].ID {
		t.Fatalf("chat from %q, want %q", from, ps[0].ID)
	}
	for _, l := range goPeer.seen {
		if strings.Contains(l, `"sas-changed"`) || strings.Contains(l, `"handshake-failed"`) || strings.Contains(l, `"peer-disconnected"`) {
			t.Errorf("go reported %s", l)
		}
	}
}

// TestOriginalClientTwoNodes: the original VeryTippers browser client
// (testdata/origclient, from its own origin) in two Chromium tabs, each
// given another node of a three-node `vtpeer serve` cluster: the join,
// the offer/answer/ice relayed between the nodes, the "verytippers-data"
// DataChannel and a text message each way.
func TestOriginalClientTwoNodes(t *testing.T) {
	t.Parallel()
	b := browsertest.Start(t)
	vtpeerBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	nodes := startClusterHomes(ctx, t, 3, "--no-mailbox")
	app := httptest.NewServer(http.FileServer(http.Dir("../../testdata/origclient")))
	defer app.Close()
	_, appPort, _ := net.SplitHostPort(app.Listener.Addr().String())
	room := "orig-cluster-" + fmt.Sprint(time.Now().UnixNano())
	page := func(node int) string {
		return fmt.Sprintf("http://localhost:%s/index.html?signal=%s&room=%s", appPort, url.QueryEscape(nodes[node].url+"/"), room)
	}
	first, second := b.NewTab(t, "first"), b.NewTab(t, "second")
	if err := first.Navigate(ctx, page(0)); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, first, "joined")
	if err := second.Navigate(ctx, page(1)); err != nil {
		t.Fatal(err)
	}
	origClientExchange(ctx, t, first, second, "hello from node 0's tab", "hello back from node 1's tab")
}
