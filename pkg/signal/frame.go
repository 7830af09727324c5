package signal

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ProtocolVersion is the highest signaling protocol version this package
// speaks. A join frame without "v" (the browser client) is version 1.
const ProtocolVersion = 1

// Frame types. The browser client uses TypeJoin and the relayed types
// "offer", "answer" and "ice"; any type not listed here is relayed.
const (
	TypeJoin       = "join"        // client → server: enter a room
	TypeLeave      = "leave"       // client → server: leave the room
	TypeJoined     = "joined"      // server → client: answer to join
	TypePeerJoined = "peer-joined" // server → members: a peer entered (or resumed)
	TypePeerLeft   = "peer-left"   // server → members: a peer left
	TypeError      = "error"       // server → client: a frame was refused

	TypeRelay  = "relay"  // peer → peer through the server: sealed fallback path; relayed like offer/answer/ice
	TypeMail   = "mail"   // client → server: deposit sealed mail for a mailbox; server → client: mail kept for you
	TypeMailed = "mailed" // server → client: a mail deposit was stored

	// TypeReconnecting is a local frame returned by Client.Recv when the link
	// to the server is lost; it is never on the wire.
	TypeReconnecting = "reconnecting"
)

// Limits shared by client and server.
const (
	DefaultMaxFrame = 64 << 10 // bytes in one WebSocket message
	MaxRoomLen      = 128      // bytes in a room name
	minPeerIDLen    = 8
	maxPeerIDLen    = 64
)

// ICEServer is one STUN or TURN server, in the shape of the browser's
// RTCIceServer dictionary.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Frame is one signaling message: a JSON object in a WebSocket text frame.
// Which fields are set depends on Type; docs/PROTOCOL.md lists them. Data
// is relayed byte-for-byte: encode frames with EncodeFrame, not
// json.Marshal, which would compact and HTML-escape it.
type Frame struct {
	Type       string          `json:"type"`
	V          int             `json:"v,omitempty"`
	Room       string          `json:"room,omitempty"`
	To         string          `json:"to,omitempty"`
	From       string          `json:"from,omitempty"`
	PeerID     string          `json:"peerId,omitempty"`
	Resume     string          `json:"resume,omitempty"`
	Mailbox    string          `json:"mailbox,omitempty"`
	Token      string          `json:"token,omitempty"`
	Peers      []string        `json:"peers,omitempty"`
	ICEServers []ICEServer     `json:"iceServers,omitempty"`
	Code       string          `json:"code,omitempty"`
	Error      string          `json:"error,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// joinedWire is Frame with peers and iceServers always present, as the
// joined frame requires.
type joinedWire struct {
	Type       string          `json:"type"`
	V          int             `json:"v,omitempty"`
	Room       string          `json:"room,omitempty"`
	To         string          `json:"to,omitempty"`
	From       string          `json:"from,omitempty"`
	PeerID     string          `json:"peerId,omitempty"`
	Resume     string          `json:"resume,omitempty"`
	Mailbox    string          `json:"mailbox,omitempty"`
	Token      string          `json:"token,omitempty"`
	Peers      []string        `json:"peers"`
	ICEServers []ICEServer     `json:"iceServers"`
	Code       string          `json:"code,omitempty"`
	Error      string          `json:"error,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// DecodeFrame parses one frame. It fails with ErrBadFrame on invalid JSON,
// a non-object, or a missing type. Unknown fields are ignored.
func DecodeFrame(b []byte) (Frame, error) {
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return Frame{}, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	if f.Type == "" {
		return Frame{}, fmt.Errorf("%w: type required", ErrBadFrame)
	}
	if f.V < 0 {
		return Frame{}, fmt.Errorf("%w: negative v", ErrBadFrame)
	}
	return f, nil
}

// EncodeFrame returns the JSON encoding of f. Data, which must be valid
// JSON, is copied byte-for-byte; a joined frame always carries peers and
// iceServers, possibly empty.
func EncodeFrame(f Frame) ([]byte, error) {
	if len(f.Data) > 0 && !json.Valid(f.Data) {
		return nil, fmt.Errorf("encode frame: %w: data is not valid JSON", ErrBadFrame)
	}
	return encodeFrame(f)
}

// encodeFrame is EncodeFrame for data already known to be valid JSON (it
// came out of DecodeFrame).
func encodeFrame(f Frame) ([]byte, error) {
	data := f.Data
	f.Data = nil
	var b []byte
	var err error
	if f.Type == TypeJoined {
		w := joinedWire(f)
		if w.Peers == nil {
			w.Peers = []string{}
		}
		if w.ICEServers == nil {
			w.ICEServers = []ICEServer{}
		}
		b, err = json.Marshal(w)
	} else {
		b, err = json.Marshal(f)
	}
	if err != nil {
		return nil, fmt.Errorf("encode frame: %w", err)
	}
	if len(data) == 0 {
		return b, nil
	}
	// b ends with '}' and has at least "type" before it.
	out := make([]byte, 0, len(b)+len(data)+8)
	out = append(out, b[:len(b)-1]...)
	out = append(out, `,"data":`...)
	out = append(out, bytes.TrimSpace(data)...)
	out = append(out, '}')
	return out, nil
}

// validPeerID reports whether id is 8–64 characters of [A-Za-z0-9_-].
func validPeerID(id string) bool {
	if len(id) < minPeerIDLen || len(id) > maxPeerIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
