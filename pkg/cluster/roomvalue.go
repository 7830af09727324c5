package cluster

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"unique"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// roomValue is a room's state: the value of its key in the room bucket.
// The JSON tags are those of the first encoding (see decodeRoom).
type roomValue struct {
	Room    string          `json:"room"`
	Members []signal.Member `json:"members"`
}

// roomValueVersion is the first byte of a room value in the binary
// encoding. The first encoding was JSON, whose values start with '{'.
const roomValueVersion = 1

// A room value in the binary encoding (version 1):
//
//	version  1 byte, roomValueVersion
//	room     str
//	nodes    uvarint count, then count × str: the node ids, each once
//	members  uvarint count, then count × (peer id str, node uvarint: an
//	         index into nodes, session str, resume str: "" when none)
//
// A str is a uvarint h then h>>1 bytes: when h&1 is 1 they hold a string of
// 2×(h>>1) lower-case hex digits, two to a byte; else the string itself.
// The node ids, sessions and peer ids a server makes are hex, and the
// resume is a 64-digit hex hash, so a member of 24-digit ids takes about 28
// bytes instead of the ~100 of its JSON: every compare-and-set writes the
// room's whole value into the Raft log of the bucket's stream, on every
// replica, until nats-server compacts it (docs/BENCHMARKS.md, "Signaling
// cluster").

// appendRoom appends the binary encoding of a room's state to b.
func appendRoom(b []byte, room string, members []signal.Member) []byte {
	b = append(b, roomValueVersion)
	b = appendStr(b, room)
	var buf [8]string
	nodes := buf[:0]
	for _, m := range members {
		if !contains(nodes, m.Node) {
			nodes = append(nodes, m.Node)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(nodes)))
	for _, n := range nodes {
		b = appendStr(b, n)
	}
	b = binary.AppendUvarint(b, uint64(len(members)))
	for _, m := range members {
		b = appendStr(b, m.PeerID)
		i := 0
		for nodes[i] != m.Node {
			i++
		}
		b = binary.AppendUvarint(b, uint64(i))
		b = appendStr(b, m.Session)
		b = appendStr(b, m.Resume)
	}
	return b
}

// appendStr appends s as a str (see above).
func appendStr(b []byte, s string) []byte {
	if len(s) == 0 || len(s)%2 != 0 || !lowerHex(s) {
		b = binary.AppendUvarint(b, uint64(len(s))<<1)
		return append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(s)/2)<<1|1)
	for i := 0; i < len(s); i += 2 {
		b = append(b, unhex(s[i])<<4|unhex(s[i+1]))
	}
	return b
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// decodeRoom parses a room's value: the binary encoding, or the JSON of
// the first one (a bucket written by an older vtpeer). The node ids are
// interned (a handful of nodes hold every member of every room), and the
// other strings of one value share one allocation.
func decodeRoom(b []byte, v *roomValue) error {
	*v = roomValue{}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("decode room state: %w", err)
		}
		for i := range v.Members {
			v.Members[i].Node = unique.Make(v.Members[i].Node).Value()
		}
		return nil
	}
	if len(b) == 0 || b[0] != roomValueVersion {
		return fmt.Errorf("%w: empty or unknown version", ErrBadRoomValue)
	}
	d := strDecoder{b: b[1:], text: make([]byte, 0, 2*len(b))}
	room := d.str()
	nodes := make([]string, d.count(1))
	for i := range nodes {
		nodes[i] = unique.Make(d.strAlone()).Value()
	}
	type member struct{ id, session, resume span }
	members := make([]member, d.count(4))
	node := make([]string, len(members))
	for i := range members {
		members[i].id = d.str()
		n := d.uvarint()
		if d.err == nil && n >= uint64(len(nodes)) {
			d.err = fmt.Errorf("%w: member %d: node %d of %d", ErrBadRoomValue, i, n, len(nodes))
		}
		if d.err == nil {
			node[i] = nodes[n]
		}
		members[i].session = d.str()
		members[i].resume = d.str()
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d bytes after the members", ErrBadRoomValue, len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("decode room state: %w", d.err)
	}
	text := string(d.text)
	v.Room = room.of(text)
	if len(members) > 0 {
		v.Members = make([]signal.Member, len(members))
	}
	for i, m := range members {
		v.Members[i] = signal.Member{PeerID: m.id.of(text), Node: node[i], Session: m.session.of(text), Resume: m.resume.of(text)}
	}
	return nil
}

// span is where a decoded string sits in strDecoder.text.
type span struct{ from, to int }

func (s span) of(text string) string { return text[s.from:s.to] }

// strDecoder reads uvarints and strs from b, the strs' text into text; the
// first error sticks in err, after which every read returns zero values.
type strDecoder struct {
	b    []byte
	text []byte
	err  error
}

func (d *strDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: truncated or overlong number", ErrBadRoomValue)
		return 0
	}
	d.b = d.b[n:]
	return x
}

// count reads a count of items that take at least minBytes each, and
// checks that the rest of the value can hold them.
func (d *strDecoder) count(minBytes int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minBytes) {
		d.err = fmt.Errorf("%w: %d items in %d bytes", ErrBadRoomValue, n, len(d.b))
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// str reads a str into text and returns where it is.
func (d *strDecoder) str() span {
	h := d.uvarint()
	n := h >> 1
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: string of %d bytes in %d", ErrBadRoomValue, n, len(d.b))
	}
	if d.err != nil {
		return span{}
	}
	from := len(d.text)
	if h&1 == 1 {
		const digits = "0123456789abcdef"
		for _, c := range d.b[:n] {
			d.text = append(d.text, digits[c>>4], digits[c&15])
		}
	} else {
		d.text = append(d.text, d.b[:n]...)
	}
	d.b = d.b[n:]
	return span{from, len(d.text)}
}

// strAlone reads a str that gets its own string (not kept in text).
func (d *strDecoder) strAlone() string {
	s := d.str()
	out := string(d.text[s.from:s.to])
	d.text = d.text[:s.from]
	return out
}

// memberNode returns the index in the node table of b, a binary value that
// appendRoom wrote, of the node holding the member with peerID, or -1 when
// there is none. It reads b in place (Forward calls it for every frame to
// one peer).
func memberNode(b []byte, peerID string) int {
	var buf [48]byte
	want := appendStr(buf[:0], peerID)
	if len(b) == 0 || b[0] != roomValueVersion {
		return -1
	}
	b = b[1:]
	var ok bool
	if _, b, ok = rawStr(b); !ok { // room
		return -1
	}
	nodes, b, ok := rawUvarint(b)
	if !ok {
		return -1
	}
	for range nodes {
		if _, b, ok = rawStr(b); !ok {
			return -1
		}
	}
	members, b, ok := rawUvarint(b)
	if !ok {
		return -1
	}
	for range members {
		var id []byte
		if id, b, ok = rawStr(b); !ok {
			return -1
		}
		var node uint64
		if node, b, ok = rawUvarint(b); !ok {
			return -1
		}
		if string(id) == string(want) {
			return int(node)
		}
		for range 2 { // session, resume
			if _, b, ok = rawStr(b); !ok {
				return -1
			}
		}
	}
	return -1
}

// rawUvarint splits the uvarint at the start of b from the rest.
func rawUvarint(b []byte) (x uint64, rest []byte, ok bool) {
	x, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return x, b[n:], true
}

// rawStr splits the str at the start of b (its header and bytes) from the
// rest.
func rawStr(b []byte) (str, rest []byte, ok bool) {
	h, n := binary.Uvarint(b)
	if n <= 0 || h>>1 > uint64(len(b)-n) {
		return nil, nil, false
	}
	end := n + int(h>>1)
	return b[:end], b[end:], true
}
