package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/signal"
)

// netFlags are how a peer command reaches its room: the signaling server
// and the ICE servers to add to the ones the server hands out.
type netFlags struct {
	server   string
	token    string
	stun     []string
	turn     []string
	turnUser string
	turnPass string
	loopback bool
	via      string
	p2p      time.Duration
	turnWait time.Duration
	connect  time.Duration // bound on each connection attempt to the server
	envErr   error         // a bad VTPEER_CONNECT_TIMEOUT, reported by iceServers unless --connect-timeout is given
	cmd      *cobra.Command
}

// bind registers the flags on cmd; defaults come from VTPEER_SIGNAL_URL,
// VTPEER_TOKEN, VTPEER_VIA and VTPEER_CONNECT_TIMEOUT.
func (n *netFlags) bind(cmd *cobra.Command, g *globals) {
	f := cmd.Flags()
	n.cmd = cmd
	connect := signal.DefaultHandshakeTimeout
	if v := g.getenv("VTPEER_CONNECT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			n.envErr = usageError(fmt.Errorf("VTPEER_CONNECT_TIMEOUT %q: want a positive duration such as 10s", v))
		} else {
			connect = d
		}
	}
	f.StringVar(&n.server, "server", g.env("VTPEER_SIGNAL_URL", defaultSignalURL), "signaling server URL, or a comma-separated list of a cluster's nodes to fail over between (env VTPEER_SIGNAL_URL)")
	f.StringVar(&n.token, "token", g.env("VTPEER_TOKEN", ""), "signaling JWT for servers that require one (env VTPEER_TOKEN)")
	f.StringArrayVar(&n.stun, "stun", nil, "STUN server URL, e.g. stun:stun.example.org:3478 (repeatable; none by default)")
	f.StringArrayVar(&n.turn, "turn", nil, "TURN server URL, e.g. turn:turn.example.org:3478?transport=udp (repeatable)")
	f.StringVar(&n.turnUser, "turn-user", "", "TURN username")
	f.StringVar(&n.turnPass, "turn-pass", "", "TURN password")
	f.BoolVar(&n.loopback, "ice-loopback", false, "gather ICE candidates on loopback only (single-host setups, tests)")
	f.StringVar(&n.via, "via", g.env("VTPEER_VIA", peer.ViaAuto), "path to peers: auto (ICE, then the server relay after --p2p-timeout), direct, turn or server (env VTPEER_VIA)")
	f.DurationVar(&n.p2p, "p2p-timeout", peer.DefaultP2PTimeout, "with --via auto: how long ICE may try before falling back to the server relay")
	f.DurationVar(&n.turnWait, "turn-wait", 0, "with --via auto: how long ICE holds back a TURN relay pair so that a direct pair can win (default 0: take the first pair that works)")
	f.DurationVar(&n.connect, "connect-timeout", connect, "bound on each attempt to connect to the signaling server: TCP, TLS and the WebSocket handshake (env VTPEER_CONNECT_TIMEOUT)")
}

// checkRoom refuses room names the server would refuse.
func checkRoom(room string) error {
	if room == "" || len(room) > signal.MaxRoomLen {
		return usageError(fmt.Errorf("room name must be 1 to %d bytes", signal.MaxRoomLen))
	}
	return nil
}

// checkServers checks --server: one ws:// or wss:// URL, or several
// separated by commas (the nodes of a cluster; the client fails over
// between them).
func checkServers(list string) error {
	urls := signal.SplitURLs(list)
	if len(urls) == 0 {
		return usageError(fmt.Errorf("--server %q: want a ws:// or wss:// URL, e.g. ws://localhost:8080", list))
	}
	for _, s := range urls {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return usageError(fmt.Errorf("--server %q: want a ws:// or wss:// URL, e.g. ws://localhost:8080, or a comma-separated list of them", s))
		}
	}
	return nil
}

// iceServers returns the user's own ICE servers, after checking --server
// and --via.
func (n *netFlags) iceServers() ([]peer.ICEServer, error) {
	if err := checkServers(n.server); err != nil {
		return nil, err
	}
	switch n.via {
	case peer.ViaAuto, peer.ViaDirect, peer.ViaTURN, peer.ViaServer:
	default:
		return nil, usageError(fmt.Errorf("--via %q: want auto, direct, turn or server", n.via))
	}
	if n.p2p <= 0 {
		return nil, usageError(errors.New("--p2p-timeout must be positive"))
	}
	if n.turnWait < 0 {
		return nil, usageError(errors.New("--turn-wait must not be negative"))
	}
	if n.envErr != nil && !n.cmd.Flags().Changed("connect-timeout") {
		return nil, n.envErr
	}
	if n.connect <= 0 {
		return nil, usageError(errors.New("--connect-timeout must be positive"))
	}
	var out []peer.ICEServer
	for _, u := range n.stun {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") {
			return nil, usageError(errors.New("--stun: want a stun: or stuns: URL"))
		}
		out = append(out, peer.ICEServer{URLs: []string{u}})
	}
	if len(n.turn) > 0 && (n.turnUser == "" || n.turnPass == "") {
		return nil, usageError(errors.New("--turn needs --turn-user and --turn-pass"))
	}
	for _, u := range n.turn {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return nil, usageError(errors.New("--turn: want a turn: or turns: URL"))
		}
		out = append(out, peer.ICEServer{URLs: []string{u}, Username: n.turnUser, Credential: n.turnPass})
	}
	return out, nil
}
