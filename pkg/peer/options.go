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
	// UDPBufferSize is the read and write buffer of the Node's ICE UDP socket (default 4 MiB; the
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
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger

	knobs testKnobs // test-only; set from export_test.go
}

// testKnobs are unexported settings used by the package's own tests and benchmarks.
type testKnobs struct {
	loopbackOnly bool                                                // bind 127.0.0.1, loopback candidates only
	vnet         transport.Net                                       // use a virtual network (no UDP mux)
	frameHook    func(from, to string, text bool, b []byte) [][]byte // rewrite outgoing wire messages
	restartWait  time.Duration                                       // ICE restart bound before renegotiation
	iceTimeouts  [3]time.Duration                                    // disconnected, failed, keepalive
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
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.LoopbackOnly {
		c.knobs.loopbackOnly = true
	}
	if c.knobs.restartWait == 0 {
		c.knobs.restartWait = 4 * time.Second
	}
	if c.knobs.iceTimeouts[0] == 0 {
		c.knobs.iceTimeouts = [3]time.Duration{3 * time.Second, 6 * time.Second, 500 * time.Millisecond}
	}
	return c
}

func isLoopback(ip net.IP) bool { return ip.IsLoopback() }
