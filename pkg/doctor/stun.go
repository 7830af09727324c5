package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pion/stun/v4"
)

// binding sends STUN Binding requests from conn to dst (retransmitted
// every 300 ms) until a matching success response arrives or ctx ends, and
// returns the mapped address it carries.
func binding(ctx context.Context, conn net.PacketConn, dst *net.UDPAddr) (*net.UDPAddr, error) {
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest)
	if err != nil {
		return nil, fmt.Errorf("stun binding: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	defer conn.SetReadDeadline(time.Time{})
	buf := make([]byte, 1500)
	for {
		if _, err := conn.WriteTo(req.Raw, dst); err != nil {
			return nil, fmt.Errorf("stun binding to %s: %w", dst, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			n, from, err := conn.ReadFrom(buf)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("stun binding to %s: no answer: %w", dst, ctx.Err())
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break // retransmit
			}
			if err != nil {
				return nil, fmt.Errorf("stun binding to %s: %w", dst, err)
			}
			if ua, ok := from.(*net.UDPAddr); !ok || !ua.IP.Equal(dst.IP) || ua.Port != dst.Port {
				continue
			}
			m := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if m.Decode() != nil || m.TransactionID != req.TransactionID {
				continue
			}
			if m.Type != stun.BindingSuccess {
				return nil, fmt.Errorf("stun binding to %s: answered %s", dst, m.Type)
			}
			var xor stun.XORMappedAddress
			if err := xor.GetFrom(m); err != nil {
				return nil, fmt.Errorf("stun binding to %s: %w", dst, err)
			}
			return &net.UDPAddr{IP: xor.IP, Port: xor.Port}, nil
		}
	}
}

// NAT kinds (RFC 4787 mapping behaviour) as checkNAT reports them.
const (
	natNone       = "no NAT"
	natEIM        = "endpoint-independent"
	natAddrDep    = "address-dependent"
	natSymmetric  = "symmetric"
	natUnknownMap = "NAT, mapping behaviour unknown"
)

// natProbe is what the STUN bindings found: socket A's local address and
// its mappings towards one or two destinations, socket B's local address
// and its mapping towards the first.
type natProbe struct {
	localA, localB   *net.UDPAddr
	dst1, dst2       *net.UDPAddr // dst2 nil: one destination only
	mappedA1, mapped *net.UDPAddr // mapped: B towards dst1
	mappedA2         *net.UDPAddr // A towards dst2, nil without dst2
}

// classifyNAT compares the mapped addresses; isLocal says whether an IP is
// one of this machine's.
func classifyNAT(p natProbe, isLocal func(net.IP) bool) string {
	preserved := func(local, mapped *net.UDPAddr) bool {
		return isLocal(mapped.IP) && mapped.Port == local.Port
	}
	if preserved(p.localA, p.mappedA1) && preserved(p.localB, p.mapped) {
		return natNone
	}
	if p.mappedA2 == nil {
		return natUnknownMap
	}
	switch {
	case p.mappedA1.IP.Equal(p.mappedA2.IP) && p.mappedA1.Port == p.mappedA2.Port:
		return natEIM
	case p.dst1.IP.Equal(p.dst2.IP):
		return natSymmetric // only the destination port changed, and the mapping with it
	default:
		return natAddrDep // the destination IP changed; whether its port alone would is not known
	}
}

// localIPs returns a function reporting whether ip is one of this
// machine's interface addresses.
func localIPs() func(net.IP) bool {
	addrs, _ := net.InterfaceAddrs()
	return func(ip net.IP) bool {
		if ip.IsLoopback() {
			return true
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return true
			}
		}
		return false
	}
}
