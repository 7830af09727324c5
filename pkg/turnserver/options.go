package turnserver

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options.
const (
	DefaultAddr                  = ":3478"
	DefaultRealm                 = "vtpeer"
	DefaultMaxAllocationsPerUser = 16
	DefaultUserBandwidth         = 1 << 20 // bytes per second
	// MinSecretLen is the shortest Options.Secret accepted, in bytes.
	MinSecretLen = 16
	// maxUsernameLen bounds the usernames the auth handler looks at.
	maxUsernameLen = 256
)

// Options configure a Server. A nil *Options, and every zero field, means
// the documented default.
type Options struct {
	// Addr is where New opens a UDP and a TCP listener, on the same port
	// (port 0: any free port, the same for both). Default ":3478". Ignored
	// when PacketConn or Listener is set.
	Addr string
	// PacketConn and Listener are sockets the caller opened; the Server
	// serves TURN on those it is given (one or both) and closes them on
	// Close.
	PacketConn net.PacketConn
	Listener   net.Listener
	// AltAddr, when set, is a second UDP address (HOST:PORT, port 0: any
	// free one) the server also answers on. A client that asks both ports
	// for its mapped address from one socket learns whether its NAT keeps
	// one mapping for every destination (endpoint-independent) or a new one
	// per destination port (symmetric: direct connections need TURN);
	// AltSTUNURL names it. Empty: none.
	AltAddr string
	// PublicIP is the address clients and peers reach the server at, for a
	// server behind NAT (the relay ports must be forwarded 1:1). Default:
	// the listening IP, or for a wildcard listener the local address of the
	// default route.
	PublicIP net.IP
	// Secret is the shared secret of the TURN REST credentials, at least
	// MinSecretLen bytes. Default: 32 random bytes for this process (then
	// only Server.Credentials can mint credentials). New copies it; Close
	// zeroes the copy.
	Secret []byte
	// Realm is the TURN realm. Default "vtpeer".
	Realm string
	// AllowLoopback lets the server relay to loopback, private, shared and
	// link-local peers and to itself: for tests and single-host setups
	// only. Multicast, broadcast and unspecified peers stay refused.
	AllowLoopback bool
	// MaxAllocationsPerUser caps one peerId's concurrent allocations
	// (default 16: two per PeerConnection, udp and tcp, with seven others in
	// a room, plus ICE restarts). Negative: no cap.
	MaxAllocationsPerUser int
	// UserBandwidth is what one peerId may relay, in bytes per second
	// through all its allocations and both directions (default 1 MiB/s,
	// with one second of burst, at least 64 KiB). Negative: no cap.
	UserBandwidth int64
	// Registry, when set, receives the metrics (vtpeer_turn_*).
	Registry prometheus.Registerer
	// Logger receives allocation and auth events (never secrets or
	// credentials), rate-limited. Nil: discard.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Addr == "" {
		v.Addr = DefaultAddr
	}
	if v.Realm == "" {
		v.Realm = DefaultRealm
	}
	if v.MaxAllocationsPerUser == 0 {
		v.MaxAllocationsPerUser = DefaultMaxAllocationsPerUser
	}
	if v.UserBandwidth == 0 {
		v.UserBandwidth = DefaultUserBandwidth
	}
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	return v
}

func (o *Options) validate() error {
	switch {
	case o.Secret != nil && len(o.Secret) < MinSecretLen:
		return fmt.Errorf("%w: Secret shorter than %d bytes", ErrBadOptions, MinSecretLen)
	case o.PublicIP != nil && (o.PublicIP.To16() == nil || o.PublicIP.IsUnspecified() || o.PublicIP.IsMulticast()):
		return fmt.Errorf("%w: PublicIP %v is not a unicast address", ErrBadOptions, o.PublicIP)
	case o.PublicIP != nil && o.PublicIP.To4() == nil:
		return fmt.Errorf("%w: PublicIP %v: relays are IPv4 only", ErrBadOptions, o.PublicIP)
	}
	if o.PacketConn == nil && o.Listener == nil {
		if _, _, err := net.SplitHostPort(o.Addr); err != nil {
			return fmt.Errorf("%w: Addr: %w", ErrBadOptions, err)
		}
	}
	if o.AltAddr != "" {
		if _, _, err := net.SplitHostPort(o.AltAddr); err != nil {
			return fmt.Errorf("%w: AltAddr: %w", ErrBadOptions, err)
		}
	}
	return nil
}
