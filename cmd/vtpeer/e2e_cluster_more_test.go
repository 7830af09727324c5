package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal/signaltest"
)

// clusterNode is one `vtpeer serve` process of a cluster started by
// startClusterHomes: its process, ws URL, VTPEER_HOME and the arguments
// it was started with (to restart it the same way).
type clusterNode struct {
	proc *proc
	url  string
	home string
	args []string
}

// startClusterHomes runs n clustered `vtpeer serve` processes, each with
// its own VTPEER_HOME and the mailbox on (in the cluster's JetStream),
// and returns them once each listens.
func startClusterHomes(ctx context.Context, t *testing.T, n int, extra ...string) []*clusterNode {
	t.Helper()
	return startClusterAt(ctx, t, slices.Repeat([]string{"127.0.0.1:0"}, n), extra...)
}

// freeAddrs returns n loopback addresses that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		_ = ln.Close()
	}
	return addrs
}

// startClusterAt is startClusterHomes with node i's signaling on httpAddrs[i].
func startClusterAt(ctx context.Context, t *testing.T, httpAddrs []string, extra ...string) []*clusterNode {
	t.Helper()
	n := len(httpAddrs)
	addrs := freeAddrs(t, n)
	var routes []string
	for _, a := range addrs {
		routes = append(routes, "nats://"+a)
	}
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		nodes[i] = &clusterNode{home: t.TempDir(), args: append([]string{"serve", "--addr", httpAddrs[i],
			"--cluster-listen", addrs[i], "--routes", strings.Join(routes, ",")}, extra...)}
		nodes[i].proc = startProc(t, []string{"VTPEER_HOME=" + nodes[i].home}, nodes[i].args...)
	}
	for i, nd := range nodes {
		nd.url = waitListening(ctx, t, nd.proc, i)
	}
	for _, nd := range nodes {
		waitReady(ctx, t, nd.url)
	}
	return nodes
}

// waitReady waits until the node at ws URL u answers /readyz with 200, as
// a load balancer's health check would before sending it clients (a node
// that starts on a store others moved past takes no joins until it has
// caught up).
func waitReady(ctx context.Context, t *testing.T, u string) {
	t.Helper()
	url := "http://" + strings.TrimPrefix(u, "ws://") + "/readyz"
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never ready: %s", url, last)
		case <-tick.C:
		}
	}
}

// waitListening returns the ws URL serve process p logs it listens on.
func waitListening(ctx context.Context, t *testing.T, p *proc, i int) string {
	t.Helper()
	for {
		if m := listenRE.FindStringSubmatch(p.stderr.String()); m != nil {
			return "ws://" + m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("serve %d exited: %s", i, p.stderr.String())
		case <-ctx.Done():
			t.Fatalf("serve %d did not listen: %s", i, p.stderr.String())
		case <-p.stderr.notify:
		}
	}
}

// TestClusterJoinChatTip: three clustered `vtpeer serve` processes; a
// `vtpeer join` on node 0 and one on node 1 chat over their DataChannel,
// and a `vtpeer tip` on node 2 tips the receiver on node 0: the signed tip
// is verified and forwarded once, and the receiver's signed receipt comes
// back to the tipper.
func TestClusterJoinChatTip(t *testing.T) {
	t.Parallel()
	vtpeerBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	orch := &orchestratorStub{ok: map[string]int{}}
	hs := httptest.NewServer(orch)
	defer hs.Close()
	nodes := startClusterHomes(ctx, t, 3, "--no-mailbox")
	tipKS, tipPW, tipAddr := newAccount(ctx, t)
	rcvKS, rcvPW, rcvAddr := newAccount(ctx, t)

	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", "tips", "--json", "--server", nodes[0].url,
		"--ice-loopback", "--timeout", "120s", "--forward", hs.URL+"/submit-meta",
		"--keystore", rcvKS, "--password-file", rcvPW, "--account", rcvAddr)
	recv.waitEvent(ctx, "joined")

	// Chat: a peer on node 1 says two lines over the DataChannel.
	chat := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", "tips", "--json", "--server", nodes[1].url,
		"--ice-loopback", "--timeout", "60s", "--send", "hello from node 1", "--send", "wörld ✓")
	rc, cc := recv.waitEvent(ctx, "peer-connected"), chat.waitEvent(ctx, "peer-connected")
	if rc["sas"] == "" || rc["sas"] != cc["sas"] || rc["path"] != "direct" {
		t.Fatalf("peer-connected across nodes: receiver %v, sender %v", rc, cc)
	}
	for _, want := range []string{"hello from node 1", "wörld ✓"} {
		if m := recv.waitEvent(ctx, "message"); m["text"] != want || m["peer"] != rc["peer"] {
			t.Fatalf("message across nodes = %v, want %q from %v", m, want, rc["peer"])
		}
	}
	if code := chat.wait(ctx); code != 0 {
		t.Fatalf("sender exit %d", code)
	}

	// Tip from node 2: verified by the receiver on node 0, receipt back.
	tip := startProc(t, nil, "tip", "--room", "tips", "--server", nodes[2].url, "--ice-loopback", "--timeout", "60s",
		"--to", rcvAddr, "--amount", "5", "--cid", "thanks", "--keystore", tipKS, "--password-file", tipPW, "--from", tipAddr)
	code := tip.wait(ctx)
	var out []string
	for l := range tip.lines {
		out = append(out, l)
	}
	text := strings.Join(out, "\n") + tip.stderr.String()
	if code != 0 || !strings.Contains(text, "ACCEPTED") || !strings.Contains(text, "signed by "+rcvAddr) {
		t.Fatalf("tip across nodes: exit %d, output:\n%s", code, text)
	}
	evs := recv.waitEvents(ctx, "tip", "forward")
	ev := evs["tip"]
	if ev["verified"] != true || ev["amountVery"] != "5" || !strings.EqualFold(ev["from"].(string), tipAddr) {
		t.Fatalf("tip event at the receiver = %v", ev)
	}
	hash := ev["messageHash"].(string)
	if fw := evs["forward"]; fw["state"] != "forwarded" || fw["messageHash"] != hash {
		t.Fatalf("forward event = %v", fw)
	}
	recv.interrupt()
	recv.wait(ctx)
	if got := orch.delivered(); len(got) != 1 || got[hash] != 1 {
		t.Fatalf("orchestrator got %v, want exactly one POST for %s", got, hash)
	}
}

// TestClusterMailboxNodeKilled: mail for an absent account is deposited
// through node 0 of three (the mailbox stream keeps three replicas);
// node 0 is killed with SIGKILL; the addressee joins node 1 and gets the
// message, signed by its sender, exactly once.
func TestClusterMailboxNodeKilled(t *testing.T) {
	t.Parallel()
	vtpeerBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	nodes := startClusterHomes(ctx, t, 3)
	for i, nd := range nodes {
		if !strings.Contains(nd.proc.stderr.String(), "mailbox in the cluster's JetStream") ||
			!strings.Contains(nd.proc.stderr.String(), "replicas=3") {
			t.Fatalf("node %d does not keep mail in a 3-replica stream:\n%s", i, nd.proc.stderr.String())
		}
	}
	mp := meetThenDeposit(ctx, t, nodes[1].url, nodes[0].url, "while node 0 was alive")
	bHome, aAddr := mp.bHome, mp.aAddr
	as, bKS, bPW, bAddr := mp.as, mp.bKS, mp.bPW, mp.bAddr
	var b *proc

	killed := time.Now()
	if err := nodes[0].proc.cmd.Process.Kill(); err != nil { // kill -9
		t.Fatal(err)
	}
	<-nodes[0].proc.done

	// B joins node 1: node 1 hands over the mail node 0 took (B joins
	// again while the survivors elect leaders, as in
	// TestClusterNodeRestartKeepsStore).
	var m map[string]any
	for attempt := 1; m == nil; attempt++ {
		b = startProc(t, []string{"VTPEER_HOME=" + bHome}, append(append([]string{"join", "post", "--json", "--exit-after", "1"},
			as(bKS, bPW, bAddr, nodes[1].url)...), "--timeout", "15s")...)
		m = waitMessageOrRetry(ctx, t, b)
		if m == nil {
			t.Logf("attempt %d: no mail yet after the kill (%s)", attempt, lastLine(b.stderr.String()))
			retryPause(ctx, t)
		}
	}
	if m["text"] != "while node 0 was alive" || !strings.EqualFold(m["from"].(string), aAddr) || m["peer"] != "mailbox" {
		t.Fatalf("B got %v", m)
	}
	t.Logf("mail delivered by node 1 %v after node 0's kill -9", time.Since(killed).Round(time.Millisecond))
	if code := b.wait(ctx); code != 0 {
		t.Fatalf("B exit %d", code)
	}
	// Nothing twice: B, back on node 2, finds the box empty.
	// (--timeout after as's own 90s: the last one counts.)
	b = startProc(t, []string{"VTPEER_HOME=" + bHome}, append(append([]string{"join", "post", "--json"}, as(bKS, bPW, bAddr, nodes[2].url)...), "--timeout", "5s")...)
	b.waitEvent(ctx, "joined")
	b.wait(ctx)
	for l := range b.lines {
		b.seen = append(b.seen, l)
	}
	for _, l := range b.seen {
		if strings.Contains(l, "while node 0 was alive") {
			t.Fatalf("mail delivered twice: %s", l)
		}
	}
}

// serverNameRE reads the NATS server name a node logs at start.
var serverNameRE = regexp.MustCompile(`msg="rooms shared".* server=(\S+) store=(\S+)`)

// TestClusterNodeRestartKeepsStore: a clustered node keeps its JetStream
// store and server name under its VTPEER_HOME (a second serve on that home
// is refused while it runs); mail is deposited through node 0 (three
// replicas); node 2 is stopped and started again on the same home and
// comes back as the same JetStream peer with its replica, so that once
// node 1 stops too, nodes 0 and 2 still make a quorum and node 2 hands
// the mail over. (With a store that a restart forgets, node 2 came back
// as a stranger and the stream had one of its three replicas left.) Node
// 1 stops right after node 2 is back, before node 2 has caught up: with
// the room bucket in memory, node 2's replica came back empty, nats-server
// did not count its vote, and the bucket stayed leaderless (joins refused
// as unavailable) until node 1 returned, in about 1 of 3 runs.
func TestClusterNodeRestartKeepsStore(t *testing.T) {
	t.Parallel()
	vtpeerBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	nodes := startClusterHomes(ctx, t, 3)
	names := make([]string, 3)
	for i, nd := range nodes {
		m := serverNameRE.FindStringSubmatch(nd.proc.stderr.String())
		if m == nil || m[2] != filepath.Join(nd.home, "cluster") {
			t.Fatalf("node %d: no store under its home in the log:\n%s", i, nd.proc.stderr.String())
		}
		names[i] = m[1]
	}

	// A second serve on node 0's home is refused: the store is locked.
	free := freeAddrs(t, 1)[0]
	twin := startProc(t, []string{"VTPEER_HOME=" + nodes[0].home}, "serve", "--addr", "127.0.0.1:0", "--cluster-listen", free)
	if code := twin.wait(ctx); code != exitFailure || !strings.Contains(twin.stderr.String(), "in use by another process") {
		t.Fatalf("second serve on a locked store: exit %d, want %d with the reason:\n%s", code, exitFailure, twin.stderr.String())
	}

	mp := meetThenDeposit(ctx, t, nodes[1].url, nodes[0].url, "kept by the store")
	bHome, aAddr := mp.bHome, mp.aAddr
	as, bKS, bPW, bAddr := mp.as, mp.bKS, mp.bPW, mp.bAddr
	var b *proc

	// Node 2 stops and starts again on the same home (its address too).
	stop := func(i int) {
		t.Helper()
		nodes[i].proc.interrupt()
		if code := nodes[i].proc.wait(ctx); code != 0 {
			t.Fatalf("node %d exit %d", i, code)
		}
	}
	stop(2)
	args := append([]string{}, nodes[2].args...)
	for i, a := range args {
		if a == "--addr" {
			args[i+1] = strings.TrimPrefix(nodes[2].url, "ws://")
		}
	}
	nodes[2].proc = startProc(t, []string{"VTPEER_HOME=" + nodes[2].home}, args...)
	waitReady(ctx, t, waitListening(ctx, t, nodes[2].proc, 2))
	if m := serverNameRE.FindStringSubmatch(nodes[2].proc.stderr.String()); m == nil || m[1] != names[2] {
		t.Fatalf("restarted node 2 is server %v, want %s", m, names[2])
	}
	// It is back in the cluster: a member on node 2 sees one on node 0.
	x := signaltest.Dial(t, nodes[0].url)
	jx := x.Join("back")
	y := signaltest.Dial(t, nodes[2].url)
	if jy := y.Join("back"); len(jy.Peers) != 1 || jy.Peers[0] != jx.PeerID {
		t.Fatalf("joined on the restarted node lists %v, want [%s]", jy.Peers, jx.PeerID)
	}
	x.CloseNow()
	y.CloseNow()
	// Its replicas of the mail stream and of the room bucket are in its
	// store under its home.
	for _, stream := range []string{"vtpeer-mail", "KV_vtpeer-rooms"} {
		blocks, err := filepath.Glob(filepath.Join(nodes[2].home, "cluster", "jetstream", "*", "streams", stream, "msgs", "*.blk"))
		if err != nil || len(blocks) == 0 {
			t.Fatalf("no %s blocks in node 2's store after the restart (%v)", stream, err)
		}
	}

	// Node 1 stops: nodes 0 and 2 are two of the stream's three replicas.
	// Until the survivors have elected new leaders, node 2 refuses joins
	// as unavailable (docs/SCALING.md "Failure behaviour"): B joins
	// again, as a client would. A join taken before the mail stream has
	// its leader gets the mail when the node's retry reads it.
	stop(1)
	var m map[string]any
	for attempt := 1; m == nil; attempt++ {
		b = startProc(t, []string{"VTPEER_HOME=" + bHome}, append(append([]string{"join", "post", "--json", "--exit-after", "1"},
			as(bKS, bPW, bAddr, nodes[2].url)...), "--timeout", "15s")...)
		m = waitMessageOrRetry(ctx, t, b)
		if m == nil {
			t.Logf("attempt %d: no mail yet while the survivors elect leaders (%s)", attempt, lastLine(b.stderr.String()))
			retryPause(ctx, t)
		}
	}
	if m["text"] != "kept by the store" || !strings.EqualFold(m["from"].(string), aAddr) || m["peer"] != "mailbox" {
		t.Fatalf("B got %v", m)
	}
	if code := b.wait(ctx); code != 0 {
		t.Fatalf("B exit %d", code)
	}
}

// retryPause paces a client's retries: one second, as join's own backoff
// would after a failed round.
func retryPause(ctx context.Context, t *testing.T) {
	t.Helper()
	select {
	case <-ctx.Done():
		t.Fatal("gave up retrying: deadline")
	case <-time.After(time.Second):
	}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// waitMessageOrRetry returns p's first message event, or nil when p
// exited because the node refused its join as unavailable or because no
// message came before its --timeout.
func waitMessageOrRetry(ctx context.Context, t *testing.T, p *proc) map[string]any {
	t.Helper()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				<-p.done
				if e := p.stderr.String(); strings.Contains(e, "(unavailable)") || strings.Contains(e, "timed out after") {
					return nil
				}
				t.Fatalf("join exited before a message (exit %v):\n%s", p.err, p.stderr.String())
			}
			p.seen = append(p.seen, l)
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("stdout line is not JSON: %q", l)
			}
			if ev["type"] == "message" {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no message; stderr:\n%s", p.stderr.String())
		}
	}
}

// mailPair is two accounts of room "post": A, which deposited mail for B.
type mailPair struct {
	aAddr, bKS, bPW, bAddr, bHome string
	// as is the account and server flags of a join.
	as func(ks, pw, addr, url string) []string
}

// meetThenDeposit creates accounts A and B; they meet once in room "post"
// (B through bURL, A through aURL: A learns B's mail key); then, B away, A
// deposits text for B through aURL and quits.
func meetThenDeposit(ctx context.Context, t *testing.T, bURL, aURL, text string) mailPair {
	t.Helper()
	aKS, aPW, aAddr := newAccount(ctx, t)
	bKS, bPW, bAddr := newAccount(ctx, t)
	aHome, bHome := t.TempDir(), t.TempDir()
	as := func(ks, pw, addr, url string) []string {
		return []string{"--keystore", ks, "--password-file", pw, "--account", addr, "--server", url, "--ice-loopback", "--timeout", "90s"}
	}
	b := startProc(t, []string{"VTPEER_HOME=" + bHome}, append([]string{"join", "post", "--json", "--exit-after", "1"}, as(bKS, bPW, bAddr, bURL)...)...)
	b.waitEvent(ctx, "joined")
	a := startProc(t, []string{"VTPEER_HOME=" + aHome}, append([]string{"join", "post", "--json", "--to", bAddr, "--send", "hello"}, as(aKS, aPW, aAddr, aURL)...)...)
	a.waitEvent(ctx, "delivered")
	if a.wait(ctx) != 0 || b.wait(ctx) != 0 {
		t.Fatal("first meeting failed")
	}
	a = startProc(t, []string{"VTPEER_HOME=" + aHome}, append([]string{"join", "post", "--json", "--to", bAddr, "--send", text}, as(aKS, aPW, aAddr, aURL)...)...)
	if d := a.waitEvent(ctx, "deposited"); d["count"] != float64(1) {
		t.Fatalf("deposited event = %v", d)
	}
	if code := a.wait(ctx); code != 0 {
		t.Fatalf("A exit %d after depositing", code)
	}
	return mailPair{aAddr: aAddr, bKS: bKS, bPW: bPW, bAddr: bAddr, bHome: bHome, as: as}
}
