package turnserver

import (
	"cmp"
	"net"
	"testing"
)

// TestPeerDecision is the lockdown's decision table: the permission (per IP)
// and the per-datagram check for the server's own relay address.
func TestPeerDecision(t *testing.T) {
	t.Parallel()
	const live, dead = 50000, 50001
	for _, tt := range []struct {
		name          string
		relayIP       net.IP
		bindAny       bool
		allowLoopback bool
		peer          *net.UDPAddr
		permit        bool   // CreatePermission / ChannelBind
		out, in       bool   // a datagram to / from peer
		outTo, inFrom string // rewritten addresses ("" = unchanged)
	}{
		{name: "public peer", relayIP: net.IPv4(203, 0, 113, 1), peer: udp("198.51.100.7", 4000), permit: true, out: true, in: true},
		{name: "own address, live allocation", relayIP: net.IPv4(203, 0, 113, 1), peer: udp("203.0.113.1", live), permit: true, out: true, in: true},
		{name: "own address, dead port", relayIP: net.IPv4(203, 0, 113, 1), peer: udp("203.0.113.1", dead), permit: true},
		{name: "own address, listener port", relayIP: net.IPv4(203, 0, 113, 1), peer: udp("203.0.113.1", 3478), permit: true},
		{name: "own loopback relay, live allocation", relayIP: net.IPv4(127, 0, 0, 1), peer: udp("127.0.0.1", live), permit: true, out: true, in: true},
		{name: "own loopback relay, dead port", relayIP: net.IPv4(127, 0, 0, 1), peer: udp("127.0.0.1", dead), permit: true},
		{name: "loopback, not own", relayIP: net.IPv4(203, 0, 113, 1), peer: udp("127.0.0.1", live), out: true, in: true},
		{name: "other loopback address", relayIP: net.IPv4(127, 0, 0, 1), peer: udp("127.0.0.2", live), out: true, in: true},
		{name: "private", relayIP: net.IPv4(203, 0, 113, 1), peer: udp("10.1.2.3", 4000), out: true, in: true},
		{name: "shared", relayIP: net.IPv4(203, 0, 113, 1), peer: udp("100.64.0.1", 4000), out: true, in: true},
		{name: "link-local", relayIP: net.IPv4(203, 0, 113, 1), peer: udp("169.254.169.254", 80), out: true, in: true},
		{name: "this network", relayIP: net.IPv4(203, 0, 113, 1), peer: udp("0.1.2.3", 4000), out: true, in: true},
		{name: "broadcast, allow loopback", relayIP: net.IPv4(203, 0, 113, 1), allowLoopback: true, peer: udp("255.255.255.255", 4000), out: true, in: true},
		{name: "multicast, allow loopback", relayIP: net.IPv4(203, 0, 113, 1), allowLoopback: true, peer: udp("224.0.0.1", 4000), out: true, in: true},
		{name: "loopback, allow loopback", relayIP: net.IPv4(203, 0, 113, 1), allowLoopback: true, peer: udp("127.0.0.1", 4000), permit: true, out: true, in: true},
		{name: "own dead port, allow loopback", relayIP: net.IPv4(203, 0, 113, 1), allowLoopback: true, peer: udp("203.0.113.1", dead), permit: true, out: true, in: true},
		// Behind NAT (PublicIP, relays on 0.0.0.0): to a live allocation over
		// loopback, reported back as the relay address.
		{name: "public ip, live allocation", relayIP: net.IPv4(203, 0, 113, 7), bindAny: true, peer: udp("203.0.113.7", live), permit: true, out: true, in: true, outTo: "127.0.0.1:50000"},
		{name: "public ip, dead port", relayIP: net.IPv4(203, 0, 113, 7), bindAny: true, peer: udp("203.0.113.7", dead), permit: true},
		{name: "public ip, loopback from a live allocation", relayIP: net.IPv4(203, 0, 113, 7), bindAny: true, peer: udp("127.0.0.1", live), out: true, in: true, inFrom: "203.0.113.7:50000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Server{opts: Options{AllowLoopback: tt.allowLoopback}, relayIP: tt.relayIP.To4(), bindAny: tt.bindAny}
			s.relays.add(live)
			s.relays.add(dead)
			s.relays.remove(dead) // an allocation that has closed
			if got := s.peerAllowed(tt.peer.IP); got != tt.permit {
				t.Errorf("permission for %v: %v, want %v", tt.peer.IP, got, tt.permit)
			}
			to, ok := s.outbound(tt.peer)
			if ok != tt.out {
				t.Errorf("datagram to %v: pass %v, want %v", tt.peer, ok, tt.out)
			}
			if want := cmp.Or(tt.outTo, tt.peer.String()); ok && to.String() != want {
				t.Errorf("datagram to %v sent to %v, want %v", tt.peer, to, want)
			}
			from, ok := s.inbound(tt.peer)
			if ok != tt.in {
				t.Errorf("datagram from %v: pass %v, want %v", tt.peer, ok, tt.in)
			}
			if want := cmp.Or(tt.inFrom, tt.peer.String()); ok && from.String() != want {
				t.Errorf("datagram from %v reported as %v, want %v", tt.peer, from, want)
			}
		})
	}
}

func udp(ip string, port int) *net.UDPAddr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: port} }
