package cluster

import (
	"encoding/binary"
	"fmt"
)

// envelopeVersion is the first byte of every forwarded frame.
const envelopeVersion = 1

// envelope is one frame forwarded to another node: version (1 byte), the
// room revision the sender's node had seen (8 bytes, big endian), the room
// (1-byte length, then bytes), the peer id it is for ("" for every member;
// 1-byte length, then bytes), then the frame the members get, unchanged.
type envelope struct {
	rev   uint64
	room  string
	to    string
	frame []byte
}

// appendEnvelope appends e's encoding to b. room and to must be at most
// 255 bytes (signal.MaxRoomLen is 128, peer ids 64).
func appendEnvelope(b []byte, e envelope) []byte {
	b = append(b, envelopeVersion)
	b = binary.BigEndian.AppendUint64(b, e.rev)
	b = append(b, byte(len(e.room)))
	b = append(b, e.room...)
	b = append(b, byte(len(e.to)))
	b = append(b, e.to...)
	return append(b, e.frame...)
}

// decodeEnvelope parses b; the frame aliases b.
func decodeEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) < 11 || b[0] != envelopeVersion {
		return e, fmt.Errorf("%w: short or unknown version", ErrBadEnvelope)
	}
	e.rev = binary.BigEndian.Uint64(b[1:9])
	i := 9
	n := int(b[i])
	i++
	if n == 0 || len(b) < i+n+1 {
		return e, fmt.Errorf("%w: room", ErrBadEnvelope)
	}
	e.room = string(b[i : i+n])
	i += n
	n = int(b[i])
	i++
	if len(b) < i+n {
		return e, fmt.Errorf("%w: to", ErrBadEnvelope)
	}
	e.to = string(b[i : i+n])
	e.frame = b[i+n:]
	if len(e.frame) == 0 {
		return e, fmt.Errorf("%w: no frame", ErrBadEnvelope)
	}
	return e, nil
}
