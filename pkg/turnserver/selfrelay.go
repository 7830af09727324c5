package turnserver

import (
	"net"
	"net/netip"
	"sync"
)

// Relaying between two allocations of this server. Two peers that both need
// a relay talk relay to relay, so a client must be able to reach the
// server's own relay address. TURN permissions are per IP address, so the
// permission policy grants the own relay address and the relays themselves
// check every datagram's port: only ports of live allocations of this
// server pass, in either direction. Any other port of the server's own
// address (its signaling, its TURN listener, other services) stays out of
// reach.
//
// A server bound to the wildcard address may not own its relay address
// (PublicIP behind NAT): a datagram for a live allocation then goes to it
// over 127.0.0.1 instead of leaving the host to be hairpinned by the NAT,
// and the receiving relay reports it as coming from the relay address.

// relayPorts is the set of UDP ports of this server's live allocations.
type relayPorts struct {
	mu sync.Mutex
	m  map[int]int // port → live allocations on it (1; more only while one closes)
}

func (r *relayPorts) add(port int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[int]int)
	}
	r.m[port]++
}

func (r *relayPorts) remove(port int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[port]--; r.m[port] <= 0 {
		delete(r.m, port)
	}
}

func (r *relayPorts) live(port int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[port] > 0
}

// isSelf reports whether a is the server's relay address.
func (s *Server) isSelf(a netip.Addr) bool {
	self, ok := netip.AddrFromSlice(s.relayIP)
	return ok && self.Unmap() == a.Unmap()
}

// outbound decides a datagram a client relays to peer: where to send it,
// or false to drop it (the server's own address on a port that is not a
// live allocation).
func (s *Server) outbound(peer net.Addr) (net.Addr, bool) {
	ua, ok := peer.(*net.UDPAddr)
	if !ok {
		return peer, true
	}
	ap := ua.AddrPort()
	if !s.isSelf(ap.Addr()) {
		return peer, true
	}
	if !s.relays.live(int(ap.Port())) {
		return peer, s.opts.AllowLoopback
	}
	if s.bindAny {
		return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(ap.Port())}, true
	}
	return peer, true
}

// inbound decides a datagram a relay received from peer: the address to
// report to the client, or false to drop it.
func (s *Server) inbound(peer net.Addr) (net.Addr, bool) {
	ua, ok := peer.(*net.UDPAddr)
	if !ok {
		return peer, true
	}
	ap := ua.AddrPort()
	a, port := ap.Addr().Unmap(), int(ap.Port())
	switch {
	case s.isSelf(a):
		return peer, s.opts.AllowLoopback || s.relays.live(port)
	case s.bindAny && a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) && s.relays.live(port):
		// Another allocation, reached over loopback by outbound.
		return &net.UDPAddr{IP: s.relayIP, Port: port}, true
	}
	return peer, true
}
