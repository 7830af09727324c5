package signal

import (
	"errors"

	"github.com/coder/websocket"
)

// Sentinel errors returned by this package. Compare with errors.Is.
var (
	// ErrClosed is returned by Client methods after Close, and by Server
	// methods after Close.
	ErrClosed = errors.New("signal: closed")
	// ErrNotConnected is returned by Client.Send while the client is
	// reconnecting.
	ErrNotConnected = errors.New("signal: not connected")
	// ErrBadFrame is returned when bytes are not a valid signaling frame.
	ErrBadFrame = errors.New("signal: bad frame")
	// ErrUnauthorized is returned when a token is missing, invalid, expired
	// or does not grant the room.
	ErrUnauthorized = errors.New("signal: unauthorized")
	// ErrBadOptions is returned by NewServer and Dial for invalid options.
	ErrBadOptions = errors.New("signal: bad options")
	// ErrJoinRefused is returned by Client.Join when the server answers the
	// join with an error frame; the wrapped *ServerError has the code.
	ErrJoinRefused = errors.New("signal: join refused")
	// ErrDialTimeout is returned by Dial (and reported to
	// ClientOptions.OnDialFailure) when a connection attempt does not finish
	// within ClientOptions.HandshakeTimeout; the error's text says how far it
	// got (no TCP connection, or TCP accepted but no WebSocket handshake).
	ErrDialTimeout = errors.New("signal: dial timed out")
	// ErrRoomFull is returned by Cluster.Join when the room already has
	// MaxMembers members over all nodes.
	ErrRoomFull = errors.New("signal: room full")
	// ErrPeerIDTaken is returned by Cluster.Join when the peer id is held
	// by a member with another resume secret.
	ErrPeerIDTaken = errors.New("signal: peer id taken")
	// ErrUnavailable is returned by Cluster.Join and Cluster.Ready when the
	// node cannot reach the rest of its cluster, and by Client when no
	// server of its list answers.
	ErrUnavailable = errors.New("signal: cluster unavailable")
)

// Error codes carried in the "code" field of error frames. They are stable:
// clients may switch on them. The "error" field beside them is for humans.
const (
	CodeRoomRequired = "room_required"  // a frame other than join/leave has no room
	CodeBadFrame     = "bad_frame"      // unparsable JSON, missing type, or a server-only type
	CodeTooBig       = "too_big"        // frame above the size limit (the server closes with 1009)
	CodeRateLimited  = "rate_limited"   // the per-connection token bucket is empty
	CodeRoomFull     = "room_full"      // the room already has MaxMembers members
	CodeTooManyRooms = "too_many_rooms" // the server already has MaxRooms rooms
	CodeUnauthorized = "unauthorized"   // token missing, invalid, expired, wrong audience or room
	CodeNotJoined    = "not_joined"     // the sender is not a member of the frame's room
	CodeUnknownPeer  = "unknown_peer"   // "to" names no member of the room
	CodeBadRoom      = "bad_room"       // room name empty or longer than MaxRoomLen bytes
	CodeBadPeerID    = "bad_peer_id"    // peerId is not 8–64 characters of [A-Za-z0-9_-]
	CodePeerIDTaken  = "peer_id_taken"  // peerId is held by a live connection with another resume secret
	CodeNoMail       = "no_mail"        // this server keeps no mail
	CodeMailRefused  = "mail_refused"   // the mailbox refused the deposit (full, too big, bad id)
	CodeInvalidUTF8  = "invalid_utf8"   // a text frame that is not valid UTF-8 (never relayed)

	CodeMailRateLimited = "mail_rate_limited" // the connection's mail budget (bytes/s) is spent; not stored
	CodeUnavailable     = "unavailable"       // this node lost its cluster and takes no joins; try another node
)

// WebSocket close codes used by the server. The standard ones are the
// coder/websocket constants; 4000–4999 are ours.
const (
	CloseNormal          = websocket.StatusNormalClosure   // 1000: the client left
	CloseGoingAway       = websocket.StatusGoingAway       // 1001: the server is shutting down
	ClosePolicyViolation = websocket.StatusPolicyViolation // 1008: sustained rate-limit abuse
	CloseTooBig          = websocket.StatusMessageTooBig   // 1009: a frame exceeded MaxFrame
	CloseReplaced        = websocket.StatusCode(4000)      // another connection resumed this peerId
	CloseTooSlow         = websocket.StatusCode(4001)      // the client did not read fast enough (sent when possible)
	CloseUnavailable     = websocket.StatusTryAgainLater   // 1013: this node lost its cluster; connect to another node
)

// ServerError is an error frame received from the server.
type ServerError struct {
	Code    string // one of the Code* constants
	Message string // human-readable text
}

// Error implements error.
func (e *ServerError) Error() string { return "signal: server error " + e.Code + ": " + e.Message }
