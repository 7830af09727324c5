package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/pion/transport/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Signaler sends one signaling frame to one member of the room. The CLI adapts signal.Client to it.
// Signal may block on the network; the Node calls it from one goroutine, in order.
type Signaler interface {
	Signal(ctx context.Context, to, typ string, data json.RawMessage) error
}

// Identity is an account that proves itself in the handshake. SignHandshake signs msg (the text of
// seal.IdentityMessage) with EIP-191 personal_sign and returns the 65-byte signature.
type Identity interface {
	Address() string
	SignHandshake(msg []byte) ([]byte, error)
}

// StaticKeyer is optionally implemented by an Identity that announces a static X25519 key for
// offline mail; the key is covered by the identity signature.
type StaticKeyer interface {
	StaticKey() []byte
}

// VerifyIdentityFunc recovers the address that produced sig (EIP-191 personal_sign) over msg.
type VerifyIdentityFunc func(msg, sig []byte) (address string, err error)

// ICEServer is one STUN or TURN server.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Default option values.
const (
	DefaultUDPBufferSize  = 4 << 20
	DefaultMaxMessageSize = 256 << 10
	DefaultMaxOutboxBytes = 64 << 20
	DefaultP2PTimeout     = 10 * time.Second
	defaultEventLimit     = 1 << 20
)

// Options configure a Node. A nil *Options is not valid: Room and Signaler are required.
type Options struct {
	// Room is bound into the seal transcript and the identity message. Required.
	Room string
	// Signaler carries offers, answers and candidates. Required.
	Signaler Signaler
	// ICEServers are used for every new PeerConnection (Joined may replace them). None by default.
	ICEServers []ICEServer
	// Identity, if set, is proven to every peer; nil means anonymous.
	Identity Identity
	// VerifyIdentity checks a peer's identity signature; if nil, peers' identities are not verified
	// and a peer that sends one is reported without an Address.
	VerifyIdentity VerifyIdentityFunc
	// ExpectAddress, if set, aborts every session whose peer does not prove this address.
	ExpectAddress string
	// UDPBufferSize is the read and write buffer of each ICE UDP socket (default 4 MiB; the
	// kernel caps it at net.core.rmem_max / wmem_max). Negative keeps the kernel default.
	UDPBufferSize int
	// MaxMessageSize is the SCTP max message size we accept and the largest sealed frame we send
	// (default and maximum 256 KiB); the peer's negotiated maximum also applies.
	MaxMessageSize int
	// MaxOutboxBytes bounds the unacknowledged bytes kept per peer (default 64 MiB).
	MaxOutboxBytes int
	// LoopbackOnly binds the ICE socket to 127.0.0.1 and gathers and accepts loopback candidates
	// only: for single-host setups such as `vtpeer demo` and tests, which must not send to other
	// addresses of the machine.
	LoopbackOnly bool
	// Via selects the transport paths (default ViaAuto): ViaDirect uses host, server-reflexive
	// and peer-reflexive candidates only (TURN servers are ignored and remote relay candidates
	// dropped); ViaTURN uses relay candidates only (ICETransportPolicyRelay); ViaServer uses no
	// WebRTC at all: sealed frames travel through the signaling server as "relay" frames.
	// ViaAuto tries ICE (with TURN servers when given), falls back to the server relay after
	// P2PTimeout and moves back to ICE when it connects later; a session on a TURN pair tries a
	// direct-only PeerConnection beside it and moves to it when it connects (PathChanged). In ViaAuto and ViaServer a
	// message's sealed frame must fit RelayMaxFrame, so that it can travel on any path.
	Via string
	// P2PTimeout is how long ViaAuto lets ICE try before it starts the server relay (default 10 s).
	P2PTimeout time.Duration
	// TURNWait (ViaAuto) is how long, from the start of its connectivity checks, ICE holds back a
	// candidate pair through a TURN relay so that a direct pair still being punched through a NAT
	// can win (default 0: the first pair that works is taken). A direct pair is taken as soon as
	// it works; when only the relay works, connecting takes up to TURNWait. ViaTURN never waits.
	// Measured in docs/BENCHMARKS.md: it costs relay-only connections the wait, hence the default;
	// whatever the wait, a session that connects over TURN then tries a direct upgrade beside it
	// and moves to it when it works (upgrade.go).
	TURNWait time.Duration
	// Registry, if set, receives the Node's Prometheus metrics (see the package doc); nil = none.
	// Two Nodes registering in one Registry conflict: give each its own or wrap it with labels
	// (prometheus.WrapRegistererWith).
	Registry prometheus.Registerer
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger

	knobs testKnobs // test-only; set from export_test.go
}

// testKnobs are unexported settings used by the package's own tests and benchmarks.
type testKnobs struct {
	loopbackOnly bool                                                // bind 127.0.0.1, loopback candidates only
	vnet         transport.Net                                       // use a virtual network
	frameHook    func(from, to string, text bool, b []byte) [][]byte // rewrite outgoing wire messages
	restartWait  time.Duration                                       // ICE restart bound before renegotiation
	iceTimeouts  [3]time.Duration                                    // disconnected, failed, keepalive
	relayReady   time.Duration                                       // relay handshake deadline
	relayStall   time.Duration                                       // relay: max wait for an ack
	iceRetry     time.Duration                                       // auto: ICE retry while on the relay
	hsBackoff    time.Duration                                       // first wait after a failed handshake
	relayFirst   bool                                                // non-upgrade PeerConnections use relay candidates only
	noZeroCsum   bool                                                // do not offer SCTP zero checksums (a peer before it did)
}

func (o *Options) validate() error {
	if o == nil {
		return errors.New("peer: nil options")
	}
	if o.Room == "" {
		return errors.New("peer: options: empty room")
	}
	if o.Signaler == nil {
		return errors.New("peer: options: nil signaler")
	}
	if o.MaxMessageSize < 0 || o.MaxMessageSize > DefaultMaxMessageSize {
		return fmt.Errorf("peer: options: max message size %d out of range", o.MaxMessageSize)
	}
	if o.MaxOutboxBytes < 0 {
		return errors.New("peer: options: negative outbox size")
	}
	switch o.Via {
	case "", ViaAuto, ViaDirect, ViaTURN, ViaServer:
	default:
		return fmt.Errorf("peer: options: via %q: want auto, direct, turn or server", o.Via)
	}
	if o.P2PTimeout < 0 {
		return errors.New("peer: options: negative p2p timeout")
	}
	return nil
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.UDPBufferSize == 0 {
		c.UDPBufferSize = DefaultUDPBufferSize
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxOutboxBytes == 0 {
		c.MaxOutboxBytes = DefaultMaxOutboxBytes
	}
	if c.Via == "" {
		c.Via = ViaAuto
	}
	if c.P2PTimeout == 0 {
		c.P2PTimeout = DefaultP2PTimeout
	}
	if c.TURNWait < 0 {
		c.TURNWait = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.LoopbackOnly {
		c.knobs.loopbackOnly = true
	}
	if c.knobs.restartWait == 0 {
		c.knobs.restartWait = 4 * time.Second
	}
	if c.knobs.relayReady == 0 {
		c.knobs.relayReady = 5 * time.Second
	}
	if c.knobs.relayStall == 0 {
		c.knobs.relayStall = 10 * time.Second
	}
	if c.knobs.iceRetry == 0 {
		c.knobs.iceRetry = max(3*c.P2PTimeout, 30*time.Second)
	}
	if c.knobs.hsBackoff == 0 {
		c.knobs.hsBackoff = time.Second
	}
	if c.knobs.iceTimeouts[0] == 0 {
		c.knobs.iceTimeouts = [3]time.Duration{3 * time.Second, 6 * time.Second, 500 * time.Millisecond}
	}
	return c
}

func isLoopback(ip net.IP) bool { return ip.IsLoopback() }

// Via values (Options.Via) and paths (PeerConnected.Path, PathChanged).
const (
	ViaAuto   = "auto"
	ViaDirect = "direct"
	ViaTURN   = "turn"
	ViaServer = "server"

	PathDirect = "direct" // ICE pair without a relay candidate
	PathTURN   = "turn"   // ICE pair with a TURN relay candidate on either side
	PathServer = "server" // sealed frames through the signaling server
)
