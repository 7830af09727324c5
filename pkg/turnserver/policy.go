package turnserver

import (
	"net"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
)

// sharedRange is RFC 6598 carrier-grade NAT space, private in all but name.
var sharedRange = netip.MustParsePrefix("100.64.0.0/10")

// peerAllowed is the permission policy: may a client relay to peerIP?
func (s *Server) peerAllowed(peerIP net.IP) bool {
	a, ok := netip.AddrFromSlice(peerIP)
	if !ok {
		return false
	}
	a = a.Unmap()
	switch {
	case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return false
	case s.opts.AllowLoopback:
		return true
	case s.isSelf(a):
		// Only other live allocations: the relays check each datagram's port (selfrelay.go).
		return true
	case a.IsLoopback(), a.IsPrivate(), a.IsLinkLocalUnicast(), sharedRange.Contains(a),
		a.Is4() && a.As4()[0] == 0: // 0.0.0.0/8, "this network"
		return false
	}
	return true
}

// permit is the pion PermissionHandler.
func (s *Server) permit(client net.Addr, peerIP net.IP) bool {
	if s.peerAllowed(peerIP) {
		return true
	}
	s.metrics.permissionsDenied.Inc()
	if s.logLimit.Allow() {
		s.log.Debug("turn permission refused", "src", client.String(), "peer", peerIP.String())
	}
	return false
}

// selfDropped counts (and logs, rate-limited) a datagram to or from the
// server's own address that is no live allocation.
func (s *Server) selfDropped(c prometheus.Counter, peer net.Addr) {
	c.Inc()
	if s.logLimit.Allow() {
		s.log.Debug("turn datagram to or from the server's own address dropped: no live allocation on that port", "peer", peer.String())
	}
}
