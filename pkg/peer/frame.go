package peer

import (
	"encoding/binary"
	"fmt"
)

// Application frames travel inside the seal: every binary DataChannel message after the hellos is
// seal.Session.Seal(appFrame). Layouts (big endian):
//
//	start: 0x01 | instance u64 | base u64 | identity-len u16 | identity (seal.Identity, 0 bytes = anonymous)
//	data:  0x02 | seq u64 | ack u64 | kind-len u8 | kind | body   (ack as in the ack frame, piggybacked)
//	ack:   0x03 | seq u64                      (cumulative: every seq <= this was delivered)
//
// instance is a random id of the sending Node (a new process gets a new one); base is the lowest
// sequence number the sender will (re)send on this transport. A receiver that has never seen the
// instance starts delivering at base; otherwise it drops every seq it already delivered.
const (
	frameStart = 0x01
	frameData  = 0x02
	frameAck   = 0x03

	maxKindLen     = 255
	dataHeaderLen  = 1 + 8 + 8 + 1
	startHeaderLen = 1 + 8 + 8 + 2
)

type appFrame struct {
	typ      byte
	instance uint64 // start
	base     uint64 // start
	identity []byte // start
	seq      uint64 // data, ack
	ack      uint64 // data: piggybacked cumulative ack
	kind     string // data
	body     []byte // data
}

func encodeStart(instance, base uint64, identity []byte) []byte {
	b := make([]byte, startHeaderLen, startHeaderLen+len(identity))
	b[0] = frameStart
	binary.BigEndian.PutUint64(b[1:], instance)
	binary.BigEndian.PutUint64(b[9:], base)
	binary.BigEndian.PutUint16(b[17:], uint16(len(identity)))
	return append(b, identity...)
}

// encodeData leaves the ack field zero: it is filled in (setDataAck) just before sealing.
func encodeData(seq uint64, kind string, body []byte) []byte {
	b := make([]byte, dataHeaderLen, dataHeaderLen+len(kind)+len(body))
	b[0] = frameData
	binary.BigEndian.PutUint64(b[1:], seq)
	b[17] = byte(len(kind))
	b = append(b, kind...)
	return append(b, body...)
}

func setDataAck(frame []byte, ack uint64) { binary.BigEndian.PutUint64(frame[9:], ack) }

func encodeAck(seq uint64) []byte {
	b := make([]byte, 9)
	b[0] = frameAck
	binary.BigEndian.PutUint64(b[1:], seq)
	return b
}

// decodeFrame parses one opened application frame. Slices alias b.
func decodeFrame(b []byte) (appFrame, error) {
	if len(b) == 0 {
		return appFrame{}, fmt.Errorf("%w: empty", ErrBadFrame)
	}
	f := appFrame{typ: b[0]}
	switch b[0] {
	case frameStart:
		if len(b) < startHeaderLen {
			return appFrame{}, fmt.Errorf("%w: short start", ErrBadFrame)
		}
		f.instance = binary.BigEndian.Uint64(b[1:])
		f.base = binary.BigEndian.Uint64(b[9:])
		n := int(binary.BigEndian.Uint16(b[17:]))
		if len(b) != startHeaderLen+n {
			return appFrame{}, fmt.Errorf("%w: start length", ErrBadFrame)
		}
		if f.base == 0 {
			return appFrame{}, fmt.Errorf("%w: zero base", ErrBadFrame)
		}
		f.identity = b[startHeaderLen:]
	case frameData:
		if len(b) < dataHeaderLen {
			return appFrame{}, fmt.Errorf("%w: short data", ErrBadFrame)
		}
		f.seq = binary.BigEndian.Uint64(b[1:])
		f.ack = binary.BigEndian.Uint64(b[9:])
		k := int(b[17])
		if len(b) < dataHeaderLen+k {
			return appFrame{}, fmt.Errorf("%w: kind length", ErrBadFrame)
		}
		f.kind = string(b[dataHeaderLen : dataHeaderLen+k])
		f.body = b[dataHeaderLen+k:]
		if f.seq == 0 {
			return appFrame{}, fmt.Errorf("%w: zero seq", ErrBadFrame)
		}
	case frameAck:
		if len(b) != 9 {
			return appFrame{}, fmt.Errorf("%w: ack length", ErrBadFrame)
		}
		f.seq = binary.BigEndian.Uint64(b[1:])
	default:
		return appFrame{}, fmt.Errorf("%w: type 0x%02x", ErrBadFrame, b[0])
	}
	return f, nil
}
