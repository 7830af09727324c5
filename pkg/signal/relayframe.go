package signal

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// wireRelay is a relayed frame read straight from the client's bytes,
// without encoding/json's decode into a Frame and re-encode: the cheap path
// for the frames that make up nearly all traffic, {"type":T,"room":R,
// "to":P,"data":D}. typ, room and to are the contents of JSON strings that
// hold no escape, so they equal the decoded strings; data is the raw value.
type wireRelay struct {
	typ, room, to []byte
	data          []byte // nil when absent
}

// scanRelay reads b as a relayed frame. It reports false whenever the cheap
// path might not give exactly what DecodeFrame gives (invalid JSON, a
// string with escapes or invalid UTF-8, a duplicate key, a key that
// encoding/json would match to another Frame field, null, a join or
// server-only type…); the caller then takes the DecodeFrame path, which
// stays the single authority on what a frame means and which error it gets.
func scanRelay(b []byte) (w wireRelay, ok bool) {
	if !json.Valid(b) { // what Unmarshal checks first; the walk below relies on it
		return wireRelay{}, false
	}
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return wireRelay{}, false
	}
	var seen [4]bool // type, room, to, data
	for i = skipSpace(b, i+1); b[i] != '}'; {
		kEnd := skipValue(b, i)
		key := b[i+1 : kEnd-1]
		i = skipSpace(b, kEnd) // at ':'
		v := skipSpace(b, i+1)
		vEnd := skipValue(b, v)
		val := b[v:vEnd]
		slot := -1
		switch string(key) {
		case "type":
			slot = 0
		case "room":
			slot = 1
		case "to":
			slot = 2
		case "data":
			slot = 3
		default:
			if otherFrameField(key) {
				return wireRelay{}, false
			}
		}
		if slot >= 0 {
			if seen[slot] {
				return wireRelay{}, false
			}
			seen[slot] = true
			if slot == 3 {
				w.data = val
			} else {
				s, ok := plainString(val)
				if !ok {
					return wireRelay{}, false
				}
				switch slot {
				case 0:
					w.typ = s
				case 1:
					w.room = s
				case 2:
					w.to = s
				}
			}
		}
		i = skipSpace(b, vEnd)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return w, len(w.typ) > 0 && relayedType(w.typ)
}

// relayedType reports whether frames of type t are relayed rather than
// handled by the server.
func relayedType(t []byte) bool {
	switch string(t) {
	case TypeJoin, TypeLeave, TypeJoined, TypePeerJoined, TypePeerLeft, TypeError, TypeReconnecting, TypeMail, TypeMailed:
		return false
	}
	return true
}

// frameFields are Frame's JSON names in lower case. encoding/json matches
// keys to fields case-insensitively.
var frameFields = [...]string{"type", "v", "room", "to", "from", "peerid", "resume", "token",
	"peers", "iceservers", "code", "error", "data"}

// otherFrameField reports whether DecodeFrame might store key in a Frame
// field: a case variant of a field name, or a key with escapes or non-ASCII
// bytes (encoding/json folds a few non-ASCII letters, such as the Kelvin
// sign). Other keys are unknown fields, which both paths ignore.
func otherFrameField(key []byte) bool {
	for _, c := range key {
		if c == '\\' || c >= utf8.RuneSelf {
			return true
		}
	}
	for _, name := range frameFields {
		if len(key) == len(name) && strings.EqualFold(string(key), name) {
			return true
		}
	}
	return false
}

// plainString returns the contents of the JSON string token tok when it
// holds no escape and is valid UTF-8, so that the contents are the decoded
// string and can be copied to the output as they are.
func plainString(tok []byte) ([]byte, bool) {
	if len(tok) < 2 || tok[0] != '"' {
		return nil, false
	}
	s := tok[1 : len(tok)-1]
	ascii := true
	for _, c := range s {
		if c == '\\' {
			return nil, false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return s, ascii || utf8.Valid(s)
}

// appendRelay appends the frame as relayed from peer from: the same fields,
// in the same order, as encodeFrame writes, with data byte-for-byte. from is
// a peer id, which needs no escaping.
func (w *wireRelay) appendRelay(out []byte, from string) []byte {
	out = append(out, `{"type":"`...)
	out = append(out, w.typ...)
	out = append(out, `","room":"`...)
	out = append(out, w.room...)
	if len(w.to) > 0 {
		out = append(out, `","to":"`...)
		out = append(out, w.to...)
	}
	out = append(out, `","from":"`...)
	out = append(out, from...)
	out = append(out, '"')
	if w.data != nil {
		out = append(out, `,"data":`...)
		out = append(out, w.data...)
	}
	return append(out, '}')
}

// relaySize is the length of appendRelay's output.
func (w *wireRelay) relaySize(from string) int {
	n := len(`{"type":"","room":"","from":""}`) + len(w.typ) + len(w.room) + len(from)
	if len(w.to) > 0 {
		n += len(`,"to":""`) + len(w.to)
	}
	if w.data != nil {
		n += len(`,"data":`) + len(w.data)
	}
	return n
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i].
// b must be valid JSON (json.Valid).
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// skipString returns the index just past the JSON string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}
