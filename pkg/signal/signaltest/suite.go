package signaltest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// Nodes starts n signaling nodes that share rooms, each a signal.Server
// configured by opts (nil: defaults), and returns their ws:// URLs. They
// stop when the test ends.
type Nodes func(t *testing.T, n int, opts *signal.ServerOptions) []string

// Run runs the protocol suite with the members of each room on different
// nodes of a fresh cluster per test.
func Run(t *testing.T, nodes Nodes) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, Nodes)
	}{
		{"BrowserSequence", browserSequence},
		{"DirectedAndUnknownPeer", directed},
		{"Leave", leave},
		{"PeerIDResume", peerIDResume},
		{"MaxMembers", maxMembers},
		{"MaxMembersRace", maxMembersRace},
		{"JoinedFirst", joinedFirst},
		{"RelayFrames", relayFrames},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t, nodes)
		})
	}
}

// browserSequence plays the browser client's exact frames with its two
// tabs on different nodes.
func browserSequence(t *testing.T, nodes Nodes) {
	urls := nodes(t, 2, nil)
	a, b, other := Dial(t, urls[0]), Dial(t, urls[1]), Dial(t, urls[1])
	ja := a.Join("room-1")
	if len(ja.Peers) != 0 || ja.PeerID == "" {
		t.Fatalf("first joined = %+v", ja)
	}
	b.Send(`{"type":"join","room":"room-1"}`)
	raw, jb := b.Recv()
	if jb.Type != signal.TypeJoined || !strings.Contains(raw, `"iceServers":[]`) {
		t.Fatalf("joined = %s", raw)
	}
	if len(jb.Peers) != 1 || jb.Peers[0] != ja.PeerID {
		t.Fatalf("second joined peers = %v, want [%s] (a member on another node)", jb.Peers, ja.PeerID)
	}
	if pj := a.Expect(signal.TypePeerJoined, ""); pj.PeerID != jb.PeerID {
		t.Fatalf("peer-joined across nodes = %+v", pj)
	}
	other.Join("room-2")

	offer := `{ "sdp" : "v=0\r\n<a&b>" ,"n":1.50}`
	a.Send(`{"type":"offer","room":"room-1","data":` + offer + `}`)
	raw, f := b.Recv()
	if f.Type != "offer" || f.From != ja.PeerID || !strings.Contains(raw, `"data":`+offer) {
		t.Fatalf("offer relayed across nodes as %s", raw)
	}
	b.Send(`{"type":"answer","room":"room-1","data":{"sdp":"answer"}}`)
	if _, f = a.Recv(); f.Type != "answer" || string(f.Data) != `{"sdp":"answer"}` || f.From != jb.PeerID {
		t.Fatalf("answer relayed as %+v", f)
	}
	// A frame DecodeFrame reads (escapes in type) crosses too.
	a.Send(`{"type":"ic\u0065","room":"room-1","data":{"candidate":"c1"}}`)
	b.Expect("ice", "")
	a.Send(`{"type":"ice","data":{"candidate":"c2"}}`)
	a.Expect(signal.TypeError, signal.CodeRoomRequired)
	other.ExpectSilence(200 * time.Millisecond)

	b.CloseNow()
	if pl := a.Expect(signal.TypePeerLeft, ""); pl.PeerID != jb.PeerID {
		t.Fatalf("peer-left across nodes = %+v", pl)
	}
}

// directed checks "to" frames reach the one member wherever it is, and a
// "to" naming nobody is refused.
func directed(t *testing.T, nodes Nodes) {
	urls := nodes(t, 3, nil)
	a, b, c := Dial(t, urls[0]), Dial(t, urls[1]), Dial(t, urls[2])
	ja := a.Join("r")
	jb := b.Join("r")
	a.Expect(signal.TypePeerJoined, "")
	jc := c.Join("r")
	if len(jc.Peers) != 2 {
		t.Fatalf("third joined peers = %v", jc.Peers)
	}
	a.Expect(signal.TypePeerJoined, "")
	b.Expect(signal.TypePeerJoined, "")
	a.Send(`{"type":"ice","room":"r","to":"` + jc.PeerID + `","data":7}`)
	if _, f := c.Recv(); f.To != jc.PeerID || f.From != ja.PeerID || string(f.Data) != "7" {
		t.Fatalf("directed frame = %+v", f)
	}
	a.Send(`{"type":"ice","room":"r","to":"nobody123","data":1}`)
	a.Expect(signal.TypeError, signal.CodeUnknownPeer)
	// b got nothing of the above: its next frame is c's broadcast.
	c.Send(`{"type":"x","room":"r","data":"hi"}`)
	if _, f := b.Recv(); f.Type != "x" || f.From != jc.PeerID {
		t.Fatalf("b got %+v", f)
	}
	if _, f := a.Recv(); f.Type != "x" {
		t.Fatalf("a got %+v", f)
	}
	_ = jb
}

// leave checks a leave frame is a peer-left on the other node.
func leave(t *testing.T, nodes Nodes) {
	urls := nodes(t, 2, nil)
	a, b := Dial(t, urls[0]), Dial(t, urls[1])
	a.Join("r")
	jb := b.Join("r")
	a.Expect(signal.TypePeerJoined, "")
	b.Send(`{"type":"leave"}`)
	if f := a.Expect(signal.TypePeerLeft, ""); f.PeerID != jb.PeerID {
		t.Fatalf("peer-left = %+v", f)
	}
	// b may join again, as a new peer, and be seen again.
	b.Join("r")
	a.Expect(signal.TypePeerJoined, "")
}

// peerIDResume moves a peer id from one node to another: the new
// connection keeps it, the old one is closed, the room hears peer-joined.
func peerIDResume(t *testing.T, nodes Nodes) {
	urls := nodes(t, 3, nil)
	const id = "stable-peer-1"
	a, watcher := Dial(t, urls[0]), Dial(t, urls[2])
	watcher.Join("r")
	a.Send(`{"type":"join","room":"r","peerId":"` + id + `","resume":"s3cret"}`)
	if f := a.Expect(signal.TypeJoined, ""); f.PeerID != id {
		t.Fatalf("peerId = %q", f.PeerID)
	}
	watcher.Expect(signal.TypePeerJoined, "")

	thief := Dial(t, urls[1])
	thief.Send(`{"type":"join","room":"r","peerId":"` + id + `","resume":"guess"}`)
	thief.Expect(signal.TypeError, signal.CodePeerIDTaken)
	thief.Send(`{"type":"join","room":"r","peerId":"` + id + `"}`)
	thief.Expect(signal.TypeError, signal.CodePeerIDTaken)

	again := Dial(t, urls[1])
	again.Send(`{"type":"join","room":"r","peerId":"` + id + `","resume":"s3cret"}`)
	if f := again.Expect(signal.TypeJoined, ""); f.PeerID != id || len(f.Peers) != 1 {
		t.Fatalf("resumed joined = %+v", f)
	}
	if code := a.ExpectClose(); code != signal.CloseReplaced {
		t.Fatalf("old connection closed with %d, want %d", code, signal.CloseReplaced)
	}
	if f := watcher.Expect(signal.TypePeerJoined, ""); f.PeerID != id {
		t.Fatalf("watcher got %+v", f)
	}
	watcher.Send(`{"type":"offer","room":"r","to":"` + id + `","data":2}`)
	again.Expect("offer", "")
}

// maxMembers checks the cap holds over the nodes.
func maxMembers(t *testing.T, nodes Nodes) {
	urls := nodes(t, 3, &signal.ServerOptions{MaxMembers: 3})
	var in []*Conn
	for i := range 3 {
		c := Dial(t, urls[i%len(urls)])
		c.Join("r")
		in = append(in, c)
	}
	for i := range urls {
		c := Dial(t, urls[i])
		c.Send(`{"type":"join","room":"r"}`)
		c.Expect(signal.TypeError, signal.CodeRoomFull)
	}
	// A member leaving frees a place on any node: once the third member's
	// node has told it of the leave, a join there gets in.
	in[0].CloseNow()
	in[2].Expect(signal.TypePeerLeft, "")
	Dial(t, urls[2]).Join("r")
}

// maxMembersRace lets twice the cap join at once over the nodes: exactly
// the cap gets in.
func maxMembersRace(t *testing.T, nodes Nodes) {
	const limit = 4
	urls := nodes(t, 3, &signal.ServerOptions{MaxMembers: limit})
	conns := make([]*Conn, 2*limit)
	for i := range conns {
		conns[i] = Dial(t, urls[i%len(urls)])
	}
	var wg sync.WaitGroup
	results := make([]string, len(conns))
	for i, c := range conns {
		wg.Go(func() {
			c.Send(`{"type":"join","room":"race"}`)
			_, f := c.Recv() // the answer comes before any later room event
			results[i] = f.Type + "/" + f.Code
		})
	}
	wg.Wait()
	joined, full := 0, 0
	for _, r := range results {
		switch r {
		case signal.TypeJoined + "/":
			joined++
		case signal.TypeError + "/" + signal.CodeRoomFull:
			full++
		default:
			t.Errorf("join answered %s", r)
		}
	}
	if joined != limit || full != limit {
		t.Fatalf("%d joined and %d refused, want %d and %d", joined, full, limit, limit)
	}
}

// joinedFirst lets many members join one room at once over the nodes,
// round after round: each one's first frame is its own joined, never the
// peer-joined of a member that joined just after it (docs/PROTOCOL.md,
// "Ordering").
func joinedFirst(t *testing.T, nodes Nodes) {
	const joiners, rounds = 12, 8
	urls := nodes(t, 3, &signal.ServerOptions{MaxMembers: joiners})
	for round := range rounds {
		room := fmt.Sprintf("first-%d", round)
		conns := make([]*Conn, joiners)
		for i := range conns {
			conns[i] = Dial(t, urls[i%len(urls)])
		}
		var wg sync.WaitGroup
		first := make([]string, joiners)
		for i, c := range conns {
			wg.Go(func() {
				c.Send(`{"type":"join","room":"` + room + `"}`)
				raw, _ := c.Recv()
				first[i] = raw
			})
		}
		wg.Wait()
		for i, raw := range first {
			var f signal.Frame
			if err := json.Unmarshal([]byte(raw), &f); err != nil || f.Type != signal.TypeJoined {
				t.Errorf("round %d: joiner %d got %s before its joined", round, i, raw)
			}
		}
		for _, c := range conns {
			c.CloseNow()
		}
		if t.Failed() {
			return
		}
	}
}

// relayFrames sends sealed-fallback frames across nodes: every one
// arrives, in order, byte for byte.
func relayFrames(t *testing.T, nodes Nodes) {
	urls := nodes(t, 2, nil)
	a, b := Dial(t, urls[0]), Dial(t, urls[1])
	ja := a.Join("r")
	b.Join("r")
	a.Expect(signal.TypePeerJoined, "")
	const n = 200
	for i := range n { // 200 KB: within the relay burst and b's send queue
		data := fmt.Sprintf(`"%d:%s"`, i, strings.Repeat("A", 1000))
		a.Send(`{"type":"relay","room":"r","data":` + data + `}`)
	}
	for i := range n {
		raw, f := b.Recv()
		var s string
		if f.Type != signal.TypeRelay || f.From != ja.PeerID || json.Unmarshal(f.Data, &s) != nil || !strings.HasPrefix(s, fmt.Sprintf("%d:", i)) {
			t.Fatalf("relay frame %d arrived as %.80s", i, raw)
		}
	}
}
