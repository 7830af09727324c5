package turnserver

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
	"golang.org/x/time/rate"
)

// closeTimeout bounds how long Close waits for pion's readers.
const closeTimeout = 5 * time.Second

// Server is a running TURN server. Its metrics go to Options.Registry.
type Server struct {
	opts     Options
	secret   []byte
	realm    string
	relayIP  net.IP
	bindAny  bool         // relays bound to 0.0.0.0: the relay address may not be local
	relays   relayPorts   // ports of live allocations
	udpAddr  *net.UDPAddr // nil: no UDP listener
	altAddr  *net.UDPAddr // nil: no second UDP port (Options.AltAddr)
	tcpAddr  *net.TCPAddr // nil: no TCP listener
	turn     *turn.Server
	users    *users
	track    *tracker
	metrics  *metrics
	log      *slog.Logger
	logLimit *rate.Limiter // per-request log lines
	now      func() time.Time
}

// New validates opts, opens the listeners it needs and starts serving.
func New(opts *Options) (*Server, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:     o,
		realm:    o.Realm,
		users:    newUsers(o.MaxAllocationsPerUser, o.UserBandwidth),
		track:    newTracker(),
		metrics:  newMetrics(),
		log:      o.Logger,
		logLimit: rate.NewLimiter(1, 5),
		now:      time.Now,
	}
	if o.Secret != nil {
		s.secret = append([]byte(nil), o.Secret...)
	} else {
		s.secret = make([]byte, 32)
		_, _ = rand.Read(s.secret) // crypto/rand.Read never fails
	}
	if err := s.metrics.register(o.Registry); err != nil {
		return nil, fmt.Errorf("register turn metrics: %w", err)
	}
	pc, ln := o.PacketConn, o.Listener
	if pc == nil && ln == nil {
		var err error
		if pc, ln, err = listenPair(o.Addr); err != nil {
			return nil, err
		}
	}
	var alt net.PacketConn
	if o.AltAddr != "" {
		var err error
		if alt, err = net.ListenPacket("udp4", o.AltAddr); err != nil {
			closeAll(pc, ln)
			return nil, fmt.Errorf("listen turn alternate udp %s: %w", o.AltAddr, err)
		}
	}
	if err := s.start(pc, ln, alt); err != nil {
		closeAll(pc, ln, alt)
		return nil, err
	}
	return s, nil
}

// closeAll closes the sockets that are not nil (nil interfaces).
func closeAll(socks ...io.Closer) {
	for _, c := range socks {
		if c != nil {
			_ = c.Close()
		}
	}
}

// start picks the relay address and runs pion on pc and ln (either may be
// nil) and on alt, the second UDP port (nil: none).
func (s *Server) start(pc net.PacketConn, ln net.Listener, alt net.PacketConn) error {
	var listenIP net.IP
	if pc != nil {
		a, ok := pc.LocalAddr().(*net.UDPAddr)
		if !ok {
			return fmt.Errorf("%w: PacketConn is not UDP", ErrBadOptions)
		}
		s.udpAddr, listenIP = a, a.IP
	}
	if ln != nil {
		a, ok := ln.Addr().(*net.TCPAddr)
		if !ok {
			return fmt.Errorf("%w: Listener is not TCP", ErrBadOptions)
		}
		s.tcpAddr = a
		if listenIP == nil {
			listenIP = a.IP
		}
	}
	relayIP, bindIP := s.opts.PublicIP, "0.0.0.0"
	switch {
	case relayIP != nil:
	case listenIP != nil && !listenIP.IsUnspecified() && listenIP.To4() != nil:
		relayIP, bindIP = listenIP, listenIP.String()
	default:
		ip, err := outboundIP()
		if err != nil {
			return err
		}
		relayIP = ip
	}
	s.relayIP, s.bindAny = relayIP.To4(), bindIP == "0.0.0.0"
	if s.relayIP == nil {
		return fmt.Errorf("%w: relay address %v is not IPv4", ErrBadOptions, relayIP)
	}
	gen := &relayGenerator{s: s, static: &turn.RelayAddressGeneratorStatic{RelayAddress: s.relayIP, Address: bindIP}}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	cfg := turn.ServerConfig{
		Realm:         s.realm,
		AuthHandler:   s.authenticate,
		QuotaHandler:  s.quota,
		LoggerFactory: lf,
		EventHandler: turn.EventHandler{
			OnAuth: func(src, _ net.Addr, _, _, _, _ string, ok bool) {
				if !ok {
					s.authFailed(&turn.RequestAttributes{SrcAddr: src}, "bad message integrity")
				}
			},
			OnAllocationCreated: func(src, _ net.Addr, _, user, _ string, relay net.Addr, _ int) {
				if s.logLimit.Allow() {
					s.log.Debug("turn allocation", "peer", user, "src", src.String(), "relay", relay.String())
				}
			},
		},
	}
	if pc != nil {
		tr, _ := s.track.add(pc, nil)
		cfg.PacketConnConfigs = []turn.PacketConnConfig{{
			PacketConn: &trackedPacketConn{PacketConn: pc, tr: tr}, RelayAddressGenerator: gen, PermissionHandler: s.permit,
		}}
	}
	if alt != nil {
		s.altAddr = alt.LocalAddr().(*net.UDPAddr)
		tr, _ := s.track.add(alt, nil)
		cfg.PacketConnConfigs = append(cfg.PacketConnConfigs, turn.PacketConnConfig{
			PacketConn: &trackedPacketConn{PacketConn: alt, tr: tr}, RelayAddressGenerator: gen, PermissionHandler: s.permit,
		})
	}
	if ln != nil {
		tr, _ := s.track.add(ln, nil)
		cfg.ListenerConfigs = []turn.ListenerConfig{{
			Listener: &trackedListener{Listener: ln, tr: tr}, RelayAddressGenerator: gen, PermissionHandler: s.permit,
		}}
	}
	ts, err := turn.NewServer(cfg)
	if err != nil {
		s.track.shutdown(closeTimeout)
		return fmt.Errorf("start turn server: %w", err)
	}
	s.turn = ts
	s.log.Info("turn listening", "udp", addrString(s.udpAddr), "tcp", addrString(s.tcpAddr), "alt_udp", addrString(s.altAddr),
		"relay_ip", s.relayIP.String(), "allow_loopback", s.opts.AllowLoopback)
	return nil
}

// listenPair opens a UDP and a TCP listener on the same port of addr; with
// port 0 it retries until a port is free for both.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: Addr: %w", ErrBadOptions, err)
	}
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen turn udp %s: %w", addr, err)
		}
		p := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		ln, err := net.Listen("tcp4", net.JoinHostPort(host, p))
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		if port != "0" || attempt == 20 {
			return nil, nil, fmt.Errorf("listen turn tcp %s: %w", net.JoinHostPort(host, p), err)
		}
	}
}

// outboundIP is the local IPv4 address of the default route. Connecting a
// UDP socket sends nothing.
func outboundIP() (net.IP, error) {
	c, err := net.Dial("udp4", "192.0.2.1:3478") // TEST-NET-1: any routable address will do
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoRelayIP, err)
	}
	defer c.Close()
	ip := c.LocalAddr().(*net.UDPAddr).IP
	if ip.IsUnspecified() || ip.IsLoopback() {
		return nil, ErrNoRelayIP
	}
	return ip, nil
}

func addrString(a net.Addr) string {
	switch a := a.(type) {
	case *net.UDPAddr:
		if a != nil {
			return a.String()
		}
	case *net.TCPAddr:
		if a != nil {
			return a.String()
		}
	}
	return ""
}

// RelayIP is the address the server advertises for its relays, and the host
// of its URLs.
func (s *Server) RelayIP() net.IP { return s.relayIP }

// UDPAddr and TCPAddr are the listening addresses (nil for a transport the
// server does not serve).
func (s *Server) UDPAddr() *net.UDPAddr { return s.udpAddr }

// TCPAddr: see UDPAddr.
func (s *Server) TCPAddr() *net.TCPAddr { return s.tcpAddr }

// URLs are the ICE server URLs of this server, with RelayIP as host:
// turn:HOST:PORT?transport=udp and ?transport=tcp for the transports it
// serves. Behind NAT the listening ports must be forwarded unchanged.
func (s *Server) URLs() []string {
	host := s.relayIP.String()
	var urls []string
	if s.udpAddr != nil {
		urls = append(urls, "turn:"+net.JoinHostPort(host, strconv.Itoa(s.udpAddr.Port))+"?transport=udp")
	}
	if s.tcpAddr != nil {
		urls = append(urls, "turn:"+net.JoinHostPort(host, strconv.Itoa(s.tcpAddr.Port))+"?transport=tcp")
	}
	return urls
}

// STUNURL is stun:HOST:PORT for the server's UDP listener ("" without one):
// the TURN server answers STUN Binding requests without credentials, so
// peers that must not relay (vtpeer's --via direct) still learn their
// server-reflexive address from it.
func (s *Server) STUNURL() string {
	if s.udpAddr == nil {
		return ""
	}
	return "stun:" + net.JoinHostPort(s.relayIP.String(), strconv.Itoa(s.udpAddr.Port))
}

// AltSTUNURL is stun:HOST:PORT for the second UDP port (Options.AltAddr),
// "" without one.
func (s *Server) AltSTUNURL() string {
	if s.altAddr == nil {
		return ""
	}
	return "stun:" + net.JoinHostPort(s.relayIP.String(), strconv.Itoa(s.altAddr.Port))
}

// Allocations is the number of live allocations.
func (s *Server) Allocations() int { return s.turn.AllocationCount() }

// Close stops the server: it closes the listeners, every TCP client
// connection and every relay, waits until each of their readers has
// returned, and zeroes the secret.
func (s *Server) Close() error {
	err := s.turn.Close()
	if !s.track.shutdown(closeTimeout) {
		err = errors.Join(err, ErrCloseTimeout)
	}
	clear(s.secret)
	return err
}
