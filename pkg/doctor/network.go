package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// turnCreds is one turn: URL with the credentials the server handed out.
type turnCreds struct {
	url        iceURL
	raw        string
	user, pass string
}

// checkNetwork runs nat, turn-udp, turn-tcp, turn-relay and datachannel
// with the ICE servers the join returned.
func checkNetwork(ctx context.Context, o *Options, r *Report, facts *serverFacts) {
	names := []string{"nat", "turn-udp", "turn-tcp", "turn-relay", "datachannel"}
	if !facts.joined {
		for _, n := range names {
			r.add(GroupNetwork, n, StatusSkip, "needs a join (see server)", "")
		}
		return
	}
	var stunDests []string
	var udp, tcp *turnCreds
	var bad []string
	seen := map[string]bool{}
	for _, s := range facts.ice {
		for _, raw := range s.URLs {
			u, err := parseICEURL(raw)
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			if (u.Scheme == "stun" || u.Scheme == "turn") && u.Transport == "udp" && !seen[u.HostPort] {
				seen[u.HostPort] = true
				stunDests = append(stunDests, u.HostPort) // a TURN server answers Binding requests too
			}
			c := &turnCreds{url: u, raw: raw, user: s.Username, pass: s.Credential}
			switch {
			case u.Scheme != "turn":
			case u.Transport == "udp" && udp == nil:
				udp = c
			case u.Transport == "tcp" && tcp == nil:
				tcp = c
			}
		}
	}
	if len(bad) > 0 {
		o.Logger.Warn("doctor: unusable ICE server URLs from the server", "errors", strings.Join(bad, "; "))
	}
	haveTURN := udp != nil || tcp != nil
	checkNAT(ctx, o, r, stunDests, haveTURN)

	noTURN := "the server offers no TURN server: peers behind symmetric NATs or firewalls that block UDP fall back to the slower server relay"
	noTURNFix := "run `vtpeer serve --turn` (see docs/TURN.md), or give it --ice-server turn: URLs of a coturn"
	relays := map[string]net.PacketConn{}
	for _, t := range []struct {
		name, transport string
		c               *turnCreds
	}{{"turn-udp", "udp", udp}, {"turn-tcp", "tcp", tcp}} {
		if t.c == nil {
			if haveTURN {
				r.add(GroupNetwork, t.name, StatusWarn, "the server offers no turn: URL over "+t.transport,
					"add the ?transport="+t.transport+" URL (vtpeer serve --turn hands out both)")
			} else {
				r.add(GroupNetwork, t.name, StatusWarn, noTURN, noTURNFix)
			}
			continue
		}
		a, err := allocate(ctx, o, t.c)
		if err != nil {
			fix := "check that the server's TURN port is open for " + strings.ToUpper(t.transport) + " and that its --turn-public-ip is the address clients reach"
			if strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "Unauthorized") {
				fix = "the TURN server refused the credentials: the signaling server and the TURN server must share one --turn-secret-file, and both clocks must be right"
			}
			r.add(GroupNetwork, t.name, StatusFail, fmt.Sprintf("allocate at %s: %v", t.c.raw, err), fix)
			continue
		}
		defer a.close()
		relays[t.transport] = a.relay
		r.add(GroupNetwork, t.name, StatusOK, fmt.Sprintf("allocated relay %s through %s (%s)", a.relay.LocalAddr(), t.c.url.HostPort, t.transport), "")
	}
	switch {
	case len(relays) == 2:
		if d, err := relayPing(ctx, o, relays["udp"], relays["tcp"]); err != nil {
			r.add(GroupNetwork, "turn-relay", StatusFail, "a datagram between the UDP and the TCP allocation: "+err.Error(),
				"the TURN server allocates but does not relay: check its log and its relay address (--turn-public-ip)")
		} else {
			r.add(GroupNetwork, "turn-relay", StatusOK, fmt.Sprintf("a datagram went from the UDP to the TCP allocation in %s", d.Round(time.Millisecond)), "")
		}
	default:
		r.add(GroupNetwork, "turn-relay", StatusSkip, "needs both allocations", "")
	}
	if !haveTURN {
		r.add(GroupNetwork, "datachannel", StatusSkip, "needs a TURN server", "")
		return
	}
	if d, err := relayedDataChannel(ctx, o, facts.ice); err != nil {
		r.add(GroupNetwork, "datachannel", StatusFail, "two local peers forced onto TURN relay candidates: "+err.Error(),
			"TURN allocates but WebRTC cannot use it: check the TURN server's relay address and the firewall for its relay ports (UDP)")
	} else {
		r.add(GroupNetwork, "datachannel", StatusOK, fmt.Sprintf("two local peers connected through TURN relays and exchanged a message in %s", d.Round(time.Millisecond)), "")
	}
}

// checkNAT sends STUN Binding requests from two local UDP sockets and
// classifies the NAT between here and the STUN servers.
func checkNAT(ctx context.Context, o *Options, r *Report, dests []string, haveTURN bool) {
	if len(dests) == 0 {
		r.add(GroupNetwork, "nat", StatusWarn, "the server advertises no STUN or TURN server: the NAT cannot be checked, and peers behind NAT learn no public address",
			"run `vtpeer serve --turn`, or give it --ice-server stun: URLs")
		return
	}
	nctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var p natProbe
	var err error
	var dst []*net.UDPAddr
	for _, d := range dests[:min(2, len(dests))] {
		ua, rerr := net.ResolveUDPAddr("udp4", d)
		if rerr != nil {
			r.add(GroupNetwork, "nat", StatusFail, fmt.Sprintf("resolve STUN server %s: %v", d, rerr), "check the host in the server's --turn-public-ip/--ice-server, or this machine's DNS")
			return
		}
		dst = append(dst, ua)
	}
	a, err := net.ListenUDP("udp4", nil)
	if err != nil {
		r.add(GroupNetwork, "nat", StatusFail, "open a UDP socket: "+err.Error(), "this machine refuses UDP sockets: check its firewall or sandbox")
		return
	}
	defer a.Close()
	b, err := net.ListenUDP("udp4", nil)
	if err != nil {
		r.add(GroupNetwork, "nat", StatusFail, "open a UDP socket: "+err.Error(), "this machine refuses UDP sockets: check its firewall or sandbox")
		return
	}
	defer b.Close()
	p.dst1 = dst[0]
	if p.mappedA1, err = binding(nctx, a, dst[0]); err == nil {
		p.mapped, err = binding(nctx, b, dst[0])
	}
	if err == nil && len(dst) > 1 {
		p.dst2 = dst[1]
		p.mappedA2, err = binding(nctx, a, dst[1])
	}
	if err != nil {
		r.add(GroupNetwork, "nat", StatusFail, err.Error(), "UDP to the STUN/TURN port is blocked on the way: open it (UDP 3478), or peers must use TURN over TCP or the server relay")
		return
	}
	isLocal := localIPs()
	// The sockets listen on the wildcard: the address the server saw is the one to compare.
	p.localA = &net.UDPAddr{IP: p.mappedA1.IP, Port: a.LocalAddr().(*net.UDPAddr).Port}
	p.localB = &net.UDPAddr{IP: p.mapped.IP, Port: b.LocalAddr().(*net.UDPAddr).Port}
	kind := classifyNAT(p, isLocal)
	detail := fmt.Sprintf("%s: socket A :%d → %s, socket B :%d → %s (via %s)", kind, p.localA.Port, p.mappedA1, p.localB.Port, p.mapped, dests[0])
	if p.mappedA2 != nil {
		detail += fmt.Sprintf("; A → %s via %s", p.mappedA2, dests[1])
	}
	switch kind {
	case natNone, natEIM:
		r.add(GroupNetwork, "nat", StatusOK, detail, "")
	case natUnknownMap:
		if haveTURN {
			r.add(GroupNetwork, "nat", StatusOK, detail+"; one STUN destination cannot tell more (the server can offer a second: serve --turn-alt-port), and TURN is offered for the worst case", "")
		} else {
			r.add(GroupNetwork, "nat", StatusWarn, detail+"; one STUN destination cannot tell more", "run `vtpeer serve --turn --turn-alt-port 3479` so that peers behind a symmetric NAT can still connect and doctor can tell which NAT this is")
		}
	default: // address-dependent or symmetric: hole punching between two such peers fails
		fix := "TURN needed: the server offers it, so peers will connect through it (slower than direct)"
		st := StatusWarn
		if !haveTURN {
			fix = "TURN needed: run `vtpeer serve --turn`, or peers behind this NAT connect only through the server relay"
		}
		r.add(GroupNetwork, "nat", st, detail, fix)
	}
}

// allocation is a TURN client with its relay.
type allocation struct {
	conn   net.PacketConn
	client *turn.Client
	relay  net.PacketConn
}

func (a *allocation) close() {
	_ = a.relay.Close()
	a.client.Close()
	_ = a.conn.Close()
}

// pionLogs returns a logger factory that discards pion's logs.
func pionLogs() logging.LoggerFactory {
	return &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled}
}

// allocate makes a TURN allocation over c's transport with c's credentials.
func allocate(ctx context.Context, o *Options, c *turnCreds) (*allocation, error) {
	actx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var conn net.PacketConn
	if c.url.Transport == "tcp" {
		d := net.Dialer{Timeout: o.Timeout}
		tc, err := d.DialContext(actx, "tcp", c.url.HostPort)
		if err != nil {
			return nil, err
		}
		conn = turn.NewSTUNConn(tc)
	} else {
		uc, err := net.ListenPacket("udp4", ":0")
		if err != nil {
			return nil, err
		}
		conn = uc
	}
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: c.url.HostPort, TURNServerAddr: c.url.HostPort,
		Username: c.user, Password: c.pass, Conn: conn, LoggerFactory: pionLogs(),
	})
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := client.Listen(); err != nil {
		client.Close()
		_ = conn.Close()
		return nil, err
	}
	relay, err := client.AllocateWithContext(actx)
	if err != nil {
		client.Close()
		_ = conn.Close()
		if actx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("no answer within %s", o.Timeout)
		}
		return nil, err
	}
	return &allocation{conn: conn, client: client, relay: relay}, nil
}

// relayPing sends datagrams from relay a to relay b (and back, so that
// both have a permission for the other) until one arrives at b, and
// returns how long it took. Both are allocations of the same server: its
// lockdown allows relaying between them.
func relayPing(ctx context.Context, o *Options, a, b net.PacketConn) (time.Duration, error) {
	pctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	got := make(chan error, 1)
	msg := []byte("vtpeer doctor relay check")
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := b.ReadFrom(buf)
			if err != nil {
				got <- err
				return
			}
			if string(buf[:n]) == string(msg) {
				got <- nil
				return
			}
		}
	}()
	stop := context.AfterFunc(pctx, func() { _ = b.SetReadDeadline(time.Now()) })
	defer stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		_, _ = b.WriteTo([]byte("permission"), a.LocalAddr())
		if _, err := a.WriteTo(msg, b.LocalAddr()); err != nil {
			cancel()
			<-got
			return 0, fmt.Errorf("send through the relay: %w", err)
		}
		select {
		case err := <-got:
			if err != nil {
				if pctx.Err() != nil {
					return 0, fmt.Errorf("nothing arrived within %s", o.Timeout)
				}
				return 0, err
			}
			_ = b.SetReadDeadline(time.Time{})
			return time.Since(start), nil
		case <-tick.C:
		}
	}
}

var errNoRelay = errors.New("the peers connected, but not through a TURN relay")
