package signal

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// MailStore keeps sealed mail per room and mailbox id (pkg/mailbox.Box is
// one). The server never sees inside a blob.
type MailStore interface {
	Put(room, mailboxID string, blob []byte) error
	Take(room, mailboxID string) ([][]byte, error)
}

// ServerOptions configure a Server. A nil *ServerOptions, and every zero
// field, means the documented default.
type ServerOptions struct {
	// MaxFrame is the largest WebSocket message accepted, in bytes. Default
	// DefaultMaxFrame (64 KiB). A larger frame closes the connection with
	// 1009 (CloseTooBig).
	MaxFrame int64
	// Rate is the sustained number of frames per second one connection may
	// send, and Burst the bucket size. Defaults 20/s and 40. A frame over
	// the limit is refused with rate_limited; MaxViolations refusals in a
	// row (default 20) close the connection with 1008.
	Rate          rate.Limit
	Burst         int
	MaxViolations int
	// RelayRate (bytes per second, default 1 MiB/s) and RelayBurst (bytes,
	// default 256 KiB, at least MaxFrame) budget frames of type "relay"
	// instead of Rate: peers whose direct path failed carry their whole
	// sealed conversation through them. Over budget, the server delays
	// reading the sender's next frame (back-pressure) rather than refusing.
	RelayRate  rate.Limit
	RelayBurst int
	// MaxConnsPerIP caps concurrent connections from one remote IP (default
	// 64, negative: no cap). The IP is the TCP peer's: put no proxy in front
	// or the cap applies to the proxy.
	MaxConnsPerIP int
	// MaxPendingConns caps the connections that have not become WebSockets
	// (waiting for or sending a request: /healthz, /metrics, an upgrade in
	// progress, a stalled client), over all IPs (default 1024); at the cap
	// the oldest one waiting for a request is cut to make room.
	// MaxPendingConnsPerIP caps them per remote IP (default 32); over it a
	// new connection is cut. Negative: no cap. Both need ConnState set on
	// the http.Server.
	MaxPendingConns      int
	MaxPendingConnsPerIP int
	// MaxRooms caps the number of rooms (default 10,000); MaxMembers the
	// members of one room (default 8).
	MaxRooms   int
	MaxMembers int
	// PingInterval is how often the server pings each client (default 30s);
	// a client that has not answered within PongTimeout (default 10s) is
	// dropped.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// WriteTimeout bounds one write to a client (default 10s): a client
	// whose write has not completed within it is dropped (after 1 to 1.25 ×
	// WriteTimeout), so a client that stopped reading cannot hold anyone
	// for longer.
	//
	// SendQueueBytes (default 1 MiB) is how many bytes may wait for one
	// client before the members sending to it are pushed back: once a frame
	// takes a client's queue above it, the server reads the sender's next
	// frame only when that queue is down to half of it (or the client is
	// gone), so TCP back-pressure slows the sender, as the relay budget
	// does. Nothing is refused and a reader that is slow but not stalled is
	// never dropped. A queue that would exceed 2 × SendQueueBytes +
	// MaxMembers × (MaxFrame + 1 KiB), which senders that wait cannot
	// reach, drops the client (send_queue_full).
	WriteTimeout   time.Duration
	SendQueueBytes int
	// AllowOrigins restricts the browser origins that may connect: host
	// patterns (path.Match syntax, e.g. "app.example.com",
	// "*.example.com"), or whole origins when a pattern contains "://"
	// ("http://localhost:5173"), accepted besides the server's own host.
	// Empty (the default): every Origin is accepted, like the original
	// VeryTippers server — the server relies on no cookies or ambient
	// credentials. Clients that send no Origin header are always accepted.
	// Refusals get 403 and a rate-limited warning naming the Origin.
	AllowOrigins []string
	// Auth, when set, requires a valid token on every join. Nil: no auth.
	Auth *Verifier
	// ICEServers, when set, returns the ICE servers told to a peer in its
	// joined frame. Nil: an empty list.
	ICEServers func(peerID string) []ICEServer
	// Logger receives connection-level events, never frame contents or
	// tokens. Nil: discard.
	Logger *slog.Logger
	// Mail, when set, keeps sealed mail for peers that are away: a member
	// deposits with a "mail" frame, and a peer that joins with "mailbox"
	// gets what was kept for it. Nil: mail frames are refused.
	Mail MailStore
	// MailRate (bytes per second, default 32 KiB/s) and MailBurst (bytes,
	// default 512 KiB) budget the mail one connection deposits, counted in
	// decoded blob bytes. A deposit over budget is refused with
	// mail_rate_limited and not stored. MailBurst must hold the largest
	// blob the store accepts or such blobs are always refused.
	MailRate  rate.Limit
	MailBurst int
	// Cluster, when set, shares rooms with the other nodes of a cluster:
	// members, the member cap and peer ids hold over all nodes, and frames
	// reach members wherever they are (see Cluster). Nil: this Server holds
	// every member of its rooms. MaxRooms, MaxConnsPerIP and the per
	// connection budgets stay per node.
	Cluster Cluster
	// Registry, when set, receives the server's Prometheus metrics.
	Registry prometheus.Registerer
}

func (o *ServerOptions) withDefaults() ServerOptions {
	var v ServerOptions
	if o != nil {
		v = *o
	}
	if v.MaxFrame == 0 {
		v.MaxFrame = DefaultMaxFrame
	}
	if v.Rate == 0 {
		v.Rate = 20
	}
	if v.RelayRate == 0 {
		v.RelayRate = 1 << 20
	}
	if v.RelayBurst == 0 {
		v.RelayBurst = max(256<<10, int(v.MaxFrame))
	}
	if v.MailRate == 0 {
		v.MailRate = 32 << 10
	}
	if v.MailBurst == 0 {
		v.MailBurst = 512 << 10
	}
	if v.Burst == 0 {
		v.Burst = 40
	}
	if v.MaxViolations == 0 {
		v.MaxViolations = 20
	}
	if v.MaxConnsPerIP == 0 {
		v.MaxConnsPerIP = 64
	}
	if v.MaxPendingConns == 0 {
		v.MaxPendingConns = 1024
	}
	if v.MaxPendingConnsPerIP == 0 {
		v.MaxPendingConnsPerIP = 32
	}
	if v.MaxRooms == 0 {
		v.MaxRooms = 10000
	}
	if v.MaxMembers == 0 {
		v.MaxMembers = 8
	}
	if v.PingInterval == 0 {
		v.PingInterval = 30 * time.Second
	}
	if v.PongTimeout == 0 {
		v.PongTimeout = 10 * time.Second
	}
	if v.WriteTimeout == 0 {
		v.WriteTimeout = 10 * time.Second
	}
	if v.SendQueueBytes == 0 {
		v.SendQueueBytes = DefaultSendQueueBytes
	}
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	return v
}

func (o *ServerOptions) validate() error {
	switch {
	case o.MaxFrame < 64:
		return fmt.Errorf("%w: MaxFrame %d below 64", ErrBadOptions, o.MaxFrame)
	case o.Rate < 0 || o.Burst < 1 || o.MaxViolations < 1:
		return fmt.Errorf("%w: Rate, Burst and MaxViolations must be positive", ErrBadOptions)
	case o.MailRate < 0 || o.MailBurst < 1:
		return fmt.Errorf("%w: MailRate and MailBurst must be positive", ErrBadOptions)
	case o.MaxRooms < 1 || o.MaxMembers < 2:
		return fmt.Errorf("%w: MaxRooms must be ≥ 1 and MaxMembers ≥ 2", ErrBadOptions)
	case o.PingInterval < 0 || o.PongTimeout < 0 || o.WriteTimeout < 0 || o.SendQueueBytes < 1:
		return fmt.Errorf("%w: negative timeout or queue", ErrBadOptions)
	}
	return nil
}

// DefaultSendQueueBytes is the default ServerOptions.SendQueueBytes: the
// bytes waiting for one client above which its senders are pushed back.
const DefaultSendQueueBytes = 1 << 20

// queueLimit is the size in bytes past which a client's send queue drops
// it. Every frame queued from a reader is followed by that reader waiting
// while the queue is above SendQueueBytes, so the queue can pass it by at
// most one frame per connection able to send to this client (the room's
// members, itself) plus the peer-left notices of members whose
// connections end; twice SendQueueBytes leaves room for those.
func (o *ServerOptions) queueLimit() int {
	return 2*o.SendQueueBytes + o.MaxMembers*(int(o.MaxFrame)+1<<10)
}
