package peer

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/transport/v5/stdnet"
)

// TestICESocketBuffers: every UDP socket pion opens for ICE through the Node's network gets
// UDPBufferSize as its kernel read and write buffers (capped by net.core.rmem_max / wmem_max;
// Linux reports twice the size it grants), and a Node whose PeerConnection carries bulk data
// works with sockets of its own (no shared ICE UDP mux).
func TestICESocketBuffers(t *testing.T) {
	t.Parallel()
	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		size int
	}{
		{"default 4 MiB", DefaultUDPBufferSize},
		{"1 MiB", 1 << 20},
		{"kernel default", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bn := &bufferedNet{Net: std, size: tc.size}
			c, err := bn.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			uc, ok := c.(*net.UDPConn)
			if !ok {
				t.Fatalf("ListenUDP returned %T", c)
			}
			for _, o := range []struct {
				name   string
				opt    int
				sysctl string
			}{{"SO_RCVBUF", syscall.SO_RCVBUF, "rmem_max"}, {"SO_SNDBUF", syscall.SO_SNDBUF, "wmem_max"}} {
				got := sockOpt(t, uc, o.opt)
				if tc.size < 0 {
					if limit := sysctlInt(t, o.sysctl); got > 2*limit {
						t.Errorf("%s = %d with the kernel default, above 2 × %s (%d)", o.name, got, o.sysctl, limit)
					}
					continue
				}
				if want := 2 * min(tc.size, sysctlInt(t, o.sysctl)); got < want {
					t.Errorf("%s = %d, want ≥ %d (2 × min(%d, %s))", o.name, got, want, tc.size, o.sysctl)
				}
			}
		})
	}
}

func sockOpt(t *testing.T, c *net.UDPConn, opt int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := rc.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return v
}

func sysctlInt(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/" + name)
	if err != nil {
		t.Skipf("no %s: %v", name, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// TestPeerConnectionsOwnSockets: two Nodes in one room with a third each hold a PeerConnection
// per peer, each on ICE sockets of its own; messages flow on both at once.
func TestPeerConnectionsOwnSockets(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newRelay(t)
	a := newNode(t, r, "a", nil)
	b := newNode(t, r, "b", nil)
	c := newNode(t, r, "c", nil)
	r.join("a", a.n)
	r.join("b", b.n)
	r.join("c", c.n)
	for _, tn := range []*testNode{a, a, b, b, c, c} {
		waitConnected(t, ctx, tn)
	}
	local := map[string]bool{}
	for _, p := range []string{"b", "c"} {
		lc, _, pairLocal, _ := a.n.candidateStats(p)
		if len(lc) == 0 || pairLocal == "" {
			t.Fatalf("a→%s: no candidates (%v) or no selected pair", p, lc)
		}
		addr := a.n.selectedLocalAddr(p)
		if addr == "" {
			t.Fatalf("a→%s: no selected local address", p)
		}
		if local[addr] {
			t.Errorf("a's PeerConnections to b and c share the local address %s", addr)
		}
		local[addr] = true
	}
	for _, to := range []string{"b", "c"} {
		if err := a.n.Send(ctx, to, "chat", []byte("hello "+to)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tn := range []*testNode{b, c} {
		select {
		case m := <-tn.c.msgs:
			if string(m.Body) != "hello "+tn.id {
				t.Errorf("%s got %q", tn.id, m.Body)
			}
		case <-ctx.Done():
			t.Fatalf("%s: no message", tn.id)
		}
	}
}
