package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// The NAT test puts real `vtpeer join` processes behind emulated NATs, each
// in its own network namespace, and a real `vtpeer serve --turn` on a
// public-looking address, and checks which path each pair of peers ends on.
// Everything lives in namespaces the test creates and deletes: nothing is
// added to the host's own network namespace, and no packet leaves the
// namespaces (the addresses are documentation ranges, routed nowhere else).
//
//	peer ns           router ns (nftables NAT)          "internet" ns
//	eth0 10.0.i.2 ── lan 10.0.i.1 | wan 198.51.100.4i+2 ── w<i> 198.51.100.4i+1
//	                                                      lo 203.0.113.1: vtpeer serve --turn
//
// The NAT types (RFC 4787 terms) and the nftables rules in the router that
// give them, with one host behind each NAT:
//
//   - full cone (endpoint-independent mapping and filtering): masquerade,
//     which keeps the source port when it is free (always, with one host),
//     plus "udp dport 1024-65535 dnat to" the host in prerouting, so that
//     anyone may send to a mapped port;
//   - port-restricted cone (endpoint-independent mapping, address-and-port-
//     dependent filtering): masquerade alone; conntrack lets in only replies
//     from the address and port a flow was opened to;
//   - symmetric (address-and-port-dependent mapping): "masquerade random",
//     which gives every new flow (5-tuple) a random source port, so the port
//     the STUN server sees is not the one a peer sees;
//   - UDP blocked: masquerade for TCP and a forward-chain rule dropping UDP.
//
// Every router also drops new flows from the WAN to itself (input chain), as home routers do.
// Without that rule a Linux NAT is not port-restricted cone for hole punching: the first check
// from the other peer reaches the router before our own check leaves, finds no mapping and is
// delivered to the router itself, and the conntrack entry it leaves (198.51.100.6:p → our public
// address and port, UNREPLIED, refreshed by every retransmission) clashes with the reply tuple of
// our own check to that peer, so masquerade gives our check another source port: for that one
// peer the mapping is endpoint-dependent, and no direct pair ever succeeds (seen with conntrack -L
// and in pion's trace; docs/BENCHMARKS.md). Dropped in input, the packet never confirms an entry.
//
// TestNATTypes checks that the rules give these behaviours (mapping: one
// socket's STUN mapping seen by two servers; filtering: a datagram from a
// stranger to the mapped port) before it uses them.

// natKind is one emulated NAT type.
type natKind string

const (
	natFullCone       natKind = "full-cone"
	natPortRestricted natKind = "port-restricted"
	natSymmetric      natKind = "symmetric"
	natUDPBlocked     natKind = "udp-blocked"
)

// natRules is the nftables ruleset of a router of kind k whose host is host.
func natRules(k natKind, host string) string {
	masq := "masquerade"
	if k == natSymmetric {
		masq = "masquerade random"
	}
	var pre, fwd string
	if k == natFullCone {
		pre = `iifname "wan" udp dport 1024-65535 dnat to ` + host
	}
	if k == natUDPBlocked {
		fwd = `meta l4proto udp drop`
	}
	return fmt.Sprintf(`table ip vtnat {
	chain nat_pre {
		type nat hook prerouting priority dstnat; policy accept;
		%s
	}
	chain nat_post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" %s
	}
	chain filter_fwd {
		type filter hook forward priority filter; policy accept;
		%s
	}
	chain filter_in {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state new drop
	}
}
`, pre, masq, fwd)
}

const natServerIP = "203.0.113.1" // TEST-NET-3, on the "internet" namespace's lo

// natNet is a set of namespaces: the "internet" and, per peer, a NAT
// router and the peer's own namespace.
type natNet struct {
	t      *testing.T
	prefix string
	inet   string

	mu  sync.Mutex
	nss []string
	n   int
}

// newNatNet creates the "internet" namespace, or skips the test when it
// cannot (not root, no ip or nft).
func newNatNet(t *testing.T) *natNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("NAT test: needs root for network namespaces")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("NAT test: %s not found (apt-get install -y iproute2 nftables)", tool)
		}
	}
	sweepStaleNamespaces(t)
	nn := &natNet{t: t, prefix: fmt.Sprintf("vtnat%d-%d", os.Getpid(), natNets.Add(1))}
	t.Cleanup(nn.close)
	nn.inet = nn.addNS("inet")
	nn.run("ip", "-n", nn.inet, "link", "set", "lo", "up")
	nn.run("ip", "-n", nn.inet, "addr", "add", natServerIP+"/32", "dev", "lo")
	nn.sysctl(nn.inet, "net/ipv4/ip_forward", "1")
	return nn
}

var natNets atomic.Int64 // tells apart the natNets of one test process

var staleNS = regexp.MustCompile(`^vtnat(\d+)-`)

// sweepStaleNamespaces deletes namespaces left by an earlier NAT test whose
// process is gone (killed before its cleanup ran).
func sweepStaleNamespaces(t *testing.T) {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		m := staleNS.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", m[1])); err == nil {
			continue // its test is still running
		}
		if out, err := exec.Command("ip", "netns", "del", e.Name()).CombinedOutput(); err != nil {
			t.Logf("delete stale namespace %s: %v %s", e.Name(), err, out)
		}
	}
}

func (nn *natNet) addNS(role string) string {
	name := nn.prefix + role
	nn.run("ip", "netns", "add", name)
	nn.mu.Lock()
	nn.nss = append(nn.nss, name)
	nn.mu.Unlock()
	return name
}

// close deletes every namespace, and with them their veths and nft tables.
func (nn *natNet) close() {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	for i := len(nn.nss) - 1; i >= 0; i-- {
		if out, err := exec.Command("ip", "netns", "del", nn.nss[i]).CombinedOutput(); err != nil {
			nn.t.Errorf("delete namespace %s: %v %s", nn.nss[i], err, out)
		}
	}
	nn.nss = nil
}

func (nn *natNet) run(name string, args ...string) {
	nn.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		nn.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (nn *natNet) sysctl(ns, key, value string) {
	nn.t.Helper()
	nn.run("ip", "netns", "exec", ns, "sh", "-c", "echo "+value+" > /proc/sys/"+key)
}

// addPeer creates a NAT router of kind k and a peer namespace behind it,
// and returns the peer namespace and the router's public address.
func (nn *natNet) addPeer(k natKind) (ns, public string) {
	nn.t.Helper()
	nn.mu.Lock()
	i := nn.n
	nn.n++
	nn.mu.Unlock()
	if i >= 63 {
		nn.t.Fatal("too many NAT peers")
	}
	r, p := nn.addNS(fmt.Sprintf("r%d", i)), nn.addNS(fmt.Sprintf("p%d", i))
	w := fmt.Sprintf("w%d", i)
	inetIP, wanIP := fmt.Sprintf("198.51.100.%d", 4*i+1), fmt.Sprintf("198.51.100.%d", 4*i+2)
	lanIP, hostIP := fmt.Sprintf("10.0.%d.1", i), fmt.Sprintf("10.0.%d.2", i)
	for _, c := range [][]string{
		{"-n", nn.inet, "link", "add", w, "type", "veth", "peer", "name", "wan", "netns", r},
		{"-n", r, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", p},
		{"-n", nn.inet, "addr", "add", inetIP + "/30", "dev", w},
		{"-n", r, "addr", "add", wanIP + "/30", "dev", "wan"},
		{"-n", r, "addr", "add", lanIP + "/24", "dev", "lan"},
		{"-n", p, "addr", "add", hostIP + "/24", "dev", "eth0"},
		{"-n", nn.inet, "link", "set", w, "up"},
		{"-n", r, "link", "set", "lo", "up"},
		{"-n", r, "link", "set", "wan", "up"},
		{"-n", r, "link", "set", "lan", "up"},
		{"-n", p, "link", "set", "lo", "up"},
		{"-n", p, "link", "set", "eth0", "up"},
		{"-n", r, "route", "add", "default", "via", inetIP},
		{"-n", p, "route", "add", "default", "via", lanIP},
	} {
		nn.run("ip", c...)
	}
	nn.sysctl(r, "net/ipv4/ip_forward", "1")
	cmd := exec.Command("ip", "netns", "exec", r, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(natRules(k, hostIP))
	if out, err := cmd.CombinedOutput(); err != nil {
		nn.t.Fatalf("nft in %s: %v\n%s", r, err, out)
	}
	return p, wanIP
}

// natPair is two peers, behind NATs of kinds a and b, joining with --via via.
type natPair struct {
	name string
	a, b natKind
	via  string
	path string // the path both must end on
}

// natPairs are the cases TestNATPaths runs.
var natPairs = []natPair{
	{"full-cone", natFullCone, natFullCone, "auto", "direct"},
	// Ends on direct: either the direct pair wins at once, or the relay pair
	// wins the race (the hole needs a check from each side) and the session
	// moves to a direct upgrade: a path-changed turn → direct (issue 9 item 7).
	{"port-restricted", natPortRestricted, natPortRestricted, "auto", "direct"},
	{"symmetric", natSymmetric, natSymmetric, "auto", "turn"},
	{"udp-blocked", natUDPBlocked, natUDPBlocked, "auto", "turn"},
	// --via direct has no TURN: it needs the server's STUN URL to learn
	// its public address at all.
	{"direct-mode", natFullCone, natPortRestricted, "direct", "direct"},
}

// TestNATPaths: real `vtpeer serve --turn` (with the TURN lockdown on) on a
// public address and pairs of real `vtpeer join` behind emulated NATs; each
// pair ends on the path the NAT types allow.
func TestNATPaths(t *testing.T) {
	t.Parallel()
	nn := newNatNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	_, url := startServeIn(ctx, t, nn.inet, nil, "--addr", natServerIP+":0", "--turn", "--turn-addr", natServerIP+":3478")
	type peers struct{ a, b string }
	nss := make([]peers, len(natPairs))
	for i, pc := range natPairs { // the topology first: subtests run in parallel
		a, _ := nn.addPeer(pc.a)
		b, _ := nn.addPeer(pc.b)
		nss[i] = peers{a, b}
	}
	t.Run("paths", func(t *testing.T) {
		for i, pc := range natPairs {
			t.Run(pc.name, func(t *testing.T) {
				t.Parallel()
				d := runNATPair(ctx, t, url, nss[i].a, nss[i].b, pc, fmt.Sprintf("nat-%d", i))
				t.Logf("%s ↔ %s --via %s: %s in %v", pc.a, pc.b, pc.via, pc.path, d.Round(time.Millisecond))
			})
		}
	})
}

// runNATPair runs one peer in ns a and one in ns b, checks that both end
// on pc.path (a peer-connected on it, or a path-changed to it later) and that
// a message crosses, and returns b's time from joined to peer-connected.
func runNATPair(ctx context.Context, t *testing.T, url, a, b string, pc natPair, room string) time.Duration {
	t.Helper()
	common := []string{"--server", url, "--via", pc.via, "--timeout", "60s", "--json"}
	if w := os.Getenv("VTPEER_NAT_TURN_WAIT"); w != "" { // measurements (docs/BENCHMARKS.md)
		common = append(common, "--turn-wait", w)
	}
	recv := startProcIn(t, a, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", room}, common...)...)
	recv.waitEvent(ctx, "joined")
	send := startProcIn(t, b, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", room}, common...)...)
	send.waitEvent(ctx, "joined")
	start := time.Now()
	sc := send.waitEvent(ctx, "peer-connected")
	took := time.Since(start)
	rc := recv.waitEvent(ctx, "peer-connected")
	for _, side := range []struct {
		p  *proc
		ev map[string]any
	}{{send, sc}, {recv, rc}} {
		if side.ev["path"] == pc.path {
			continue
		}
		if side.ev["path"] != "turn" || pc.path != "direct" {
			t.Fatalf("peer-connected %v, want path %s", side.ev, pc.path)
		}
		// Connected over TURN first: the direct upgrade must move it.
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		ev := side.p.waitEvent(wctx, "path-changed")
		cancel()
		if ev["from"] != "turn" || ev["to"] != pc.path {
			t.Fatalf("path-changed %v, want turn → %s", ev, pc.path)
		}
		t.Logf("connected over turn, moved to %s after %v", pc.path, time.Since(start).Round(time.Millisecond))
	}
	if pc.via == "direct" {
		// Behind NAT only the server-reflexive address (from the STUN URL)
		// lets the other side reach us: without it there is no pair at all.
		if c := sc["candidate"]; c != "srflx" && c != "prflx" && c != "host" {
			t.Errorf("sender candidate %v: %v", c, sc)
		}
	}
	if _, err := io.WriteString(send.stdin, "across the NAT\n"); err != nil {
		t.Fatal(err)
	}
	if m := recv.waitEvent(ctx, "message"); m["text"] != "across the NAT" {
		t.Errorf("message = %v", m)
	}
	recv.interrupt()
	send.interrupt()
	recv.wait(ctx)
	send.wait(ctx)
	return took
}

// TestNATTypes checks the emulation: which NAT types keep one mapping for
// two destinations and which let a stranger in. The probes are this test
// binary run again inside the namespaces (TestNATProbe).
func TestNATTypes(t *testing.T) {
	t.Parallel()
	nn := newNatNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Two STUN servers on the "internet": the embedded TURN of two serves.
	for _, port := range []string{"3478", "3479"} {
		startServeIn(ctx, t, nn.inet, nil, "--addr", natServerIP+":0", "--turn", "--turn-addr", natServerIP+":"+port)
	}
	for _, tt := range []struct {
		kind           natKind
		sameMapping    bool // endpoint-independent mapping
		strangerPasses bool // endpoint-independent filtering
	}{
		{natFullCone, true, true},
		{natPortRestricted, true, false},
		{natSymmetric, false, false},
	} {
		ns, public := nn.addPeer(tt.kind)
		t.Run(string(tt.kind), func(t *testing.T) {
			out := natProbe(ctx, t, ns, "map")
			f := strings.Fields(out)
			if len(f) != 2 {
				t.Fatalf("probe output %q", out)
			}
			if !strings.HasPrefix(f[0], public+":") {
				t.Errorf("mapped %s, want the router's address %s", f[0], public)
			}
			if same := f[0] == f[1]; same != tt.sameMapping {
				t.Errorf("mappings %s and %s: same %v, want %v", f[0], f[1], same, tt.sameMapping)
			}
			if got := natStranger(ctx, t, nn.inet, ns); got != tt.strangerPasses {
				t.Errorf("a stranger's datagram got in: %v, want %v", got, tt.strangerPasses)
			}
		})
	}
	t.Run(string(natUDPBlocked), func(t *testing.T) {
		ns, _ := nn.addPeer(natUDPBlocked)
		if out := natProbe(ctx, t, ns, "map"); out != "blocked" {
			t.Errorf("probe behind a UDP-blocking NAT: %q, want blocked", out)
		}
	})
}

// natProbe runs TestNATProbe in mode inside ns and returns its result line.
func natProbe(ctx context.Context, t *testing.T, ns, mode string, env ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNATProbe$", "-test.v")
	cmd.Env = append(os.Environ(), append([]string{"VTPEER_NAT_PROBE=" + mode, "VTPEER_NAT_SERVER=" + natServerIP}, env...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("probe %s in %s: %v\n%s", mode, ns, err, out)
	}
	m := regexp.MustCompile(`(?m)^PROBE (.*)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("probe %s: no result:\n%s", mode, out)
	}
	return string(bytes.TrimSpace(m[1]))
}

// natStranger: the peer (in ns) opens a mapping to the STUN server and
// waits; a stranger on the internet (a new socket, another port) sends to
// that mapping. It reports whether the datagram got through.
func natStranger(ctx context.Context, t *testing.T, inet, ns string) bool {
	t.Helper()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNATProbe$", "-test.v")
	cmd.Env = append(os.Environ(), "VTPEER_NAT_PROBE=listen", "VTPEER_NAT_SERVER="+natServerIP)
	var out syncBuffer
	out.notify = make(chan struct{}, 1)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	mapped := regexp.MustCompile(`(?m)^MAPPED (\S+)$`)
	var addr string
	for addr == "" {
		if m := mapped.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case <-out.notify:
		case err := <-done:
			t.Fatalf("listen probe exited: %v\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("listen probe: no mapping\n%s", out.String())
		}
	}
	natProbe(ctx, t, inet, "send", "VTPEER_NAT_TARGET="+addr)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("listen probe: %v\n%s", err, out.String())
		}
	case <-ctx.Done():
		t.Fatalf("listen probe did not finish\n%s", out.String())
	}
	m := regexp.MustCompile(`(?m)^PROBE (\S+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("listen probe: no result\n%s", out.String())
	}
	return m[1] == "received"
}

// TestNATProbe is not a test on its own: TestNATTypes runs the test binary
// again inside a namespace with VTPEER_NAT_PROBE set, and this does the
// probe's part there.
//
//	map:    one UDP socket asks the STUN servers on ports 3478 and 3479 for
//	        its mapping; prints "PROBE <mapped-3478> <mapped-3479>", or
//	        "PROBE blocked" when no answer comes
//	listen: asks 3478 for its mapping, prints "MAPPED <addr>", then waits
//	        2 s for any other datagram: "PROBE received" or "PROBE silent"
//	send:   sends one datagram to VTPEER_NAT_TARGET from a new socket
func TestNATProbe(t *testing.T) {
	mode := os.Getenv("VTPEER_NAT_PROBE")
	if mode == "" {
		t.Skip("helper run by TestNATTypes inside a network namespace")
	}
	server := os.Getenv("VTPEER_NAT_SERVER")
	switch mode {
	case "map":
		conn := listenUDP(t)
		var mapped []string
		for _, port := range []int{3478, 3479} {
			a, err := stunMapped(conn, server, port)
			if err != nil {
				fmt.Println("PROBE blocked")
				return
			}
			mapped = append(mapped, a)
		}
		fmt.Println("PROBE " + strings.Join(mapped, " "))
	case "listen":
		conn := listenUDP(t)
		a, err := stunMapped(conn, server, 3478)
		if err != nil {
			t.Fatalf("stun: %v", err)
		}
		fmt.Println("MAPPED " + a)
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := conn.ReadFrom(make([]byte, 1500)); err == nil {
			fmt.Println("PROBE received")
		} else {
			fmt.Println("PROBE silent")
		}
	case "send":
		conn := listenUDP(t)
		target, err := resolveUDP(os.Getenv("VTPEER_NAT_TARGET"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteTo([]byte("stranger"), target); err != nil {
			t.Fatal(err)
		}
		fmt.Println("PROBE sent")
	default:
		t.Fatalf("VTPEER_NAT_PROBE=%q", mode)
	}
}

func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func resolveUDP(s string) (*net.UDPAddr, error) { return net.ResolveUDPAddr("udp4", s) }

// stunMapped asks the STUN server at host:port for conn's mapped address,
// trying three times, one second each.
func stunMapped(conn *net.UDPConn, host string, port int) (string, error) {
	server := &net.UDPAddr{IP: net.ParseIP(host), Port: port}
	buf := make([]byte, 1500)
	for range 3 {
		req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
		if _, err := conn.WriteTo(req.Raw, server); err != nil {
			return "", err
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				break // timeout: ask again
			}
			if from.String() != server.String() {
				continue
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			var xor stun.XORMappedAddress
			if res.Decode() != nil || res.TransactionID != req.TransactionID || xor.GetFrom(res) != nil {
				continue
			}
			_ = conn.SetReadDeadline(time.Time{})
			return net.JoinHostPort(xor.IP.String(), strconv.Itoa(xor.Port)), nil
		}
	}
	return "", fmt.Errorf("no stun answer from %v", server)
}
