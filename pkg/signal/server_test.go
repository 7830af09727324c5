package signal

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBrowserSequence plays the existing browser client's exact frames.
func TestBrowserSequence(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, nil)
	a, b, other := dialRaw(t, url, nil), dialRaw(t, url, nil), dialRaw(t, url+"/ws", nil)

	ja := a.join("room-1")
	if len(ja.Peers) != 0 || ja.PeerID == "" || ja.V != ProtocolVersion {
		t.Fatalf("first joined = %+v", ja)
	}
	raw, _ := func() (string, Frame) { b.send(`{"type":"join","room":"room-1"}`); return b.recv() }()
	if !strings.Contains(raw, `"peers":[`) || !strings.Contains(raw, `"iceServers":[]`) {
		t.Fatalf("joined lacks peers or iceServers: %s", raw)
	}
	var jb Frame
	_ = json.Unmarshal([]byte(raw), &jb)
	if len(jb.Peers) != 1 || jb.Peers[0] != ja.PeerID {
		t.Fatalf("second joined peers = %v, want [%s]", jb.Peers, ja.PeerID)
	}
	if pj := a.expect(TypePeerJoined, ""); pj.PeerID != jb.PeerID {
		t.Fatalf("peer-joined = %+v", pj)
	}
	other.join("room-2")

	// data must arrive byte-for-byte, including spacing and HTML characters.
	offer := `{ "sdp" : "v=0\r\n<a&b>" ,"n":1.50}`
	a.send(`{"type":"offer","room":"room-1","data":` + offer + `}`)
	raw, f := b.recv()
	if f.Type != "offer" || f.From != ja.PeerID || !strings.Contains(raw, `"data":`+offer) {
		t.Fatalf("offer relayed as %s", raw)
	}
	b.send(`{"type":"answer","room":"room-1","data":{"sdp":"answer"}}`)
	if _, f = a.recv(); f.Type != "answer" || string(f.Data) != `{"sdp":"answer"}` || f.From != jb.PeerID {
		t.Fatalf("answer relayed as %+v", f)
	}
	a.send(`{"type":"ice","room":"room-1","data":{"candidate":"c1"}}`)
	b.expect("ice", "")
	a.send(`{"type":"ice","data":{"candidate":"c2"}}`)
	if e := a.expect(TypeError, CodeRoomRequired); e.Error != "room required" {
		t.Fatalf("error text %q, want the old server's %q", e.Error, "room required")
	}
	a.send(`{"type":"ice",`)
	a.expect(TypeError, CodeBadFrame)
	// still usable; and the sender's own frames never came back above.
	a.send(`{"type":"ice","room":"room-1","data":{"candidate":"c3"}}`)
	b.expect("ice", "")
	b.send(`{"type":"ice","room":"room-1","to":"` + ja.PeerID + `","data":1}`)
	if _, f = a.recv(); f.To != ja.PeerID || string(f.Data) != "1" {
		t.Fatalf("directed frame = %+v", f)
	}
	other.expectSilence(100 * time.Millisecond)

	_ = b.ws.CloseNow()
	if pl := a.expect(TypePeerLeft, ""); pl.PeerID != jb.PeerID {
		t.Fatalf("peer-left = %+v", pl)
	}
}

func TestFrameErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, frame, code string
	}{
		{"no type", `{"room":"r"}`, CodeBadFrame},
		{"not an object", `[1,2]`, CodeBadFrame},
		{"server type", `{"type":"joined","room":"r"}`, CodeBadFrame},
		{"not joined", `{"type":"offer","room":"elsewhere","data":1}`, CodeNotJoined},
		{"unknown peer", `{"type":"offer","room":"r","to":"nobody123","data":1}`, CodeUnknownPeer},
		{"join without room", `{"type":"join"}`, CodeRoomRequired},
		{"long room", `{"type":"join","room":"` + strings.Repeat("x", MaxRoomLen+1) + `"}`, CodeBadRoom},
		{"bad peer id", `{"type":"join","room":"r","peerId":"short"}`, CodeBadPeerID},
		{"negative version", `{"type":"join","room":"r","v":-1}`, CodeBadFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, url := testServer(t, nil) // its own server: no other member's peer-joined/left to read
			c := dialRaw(t, url, nil)
			c.join("r")
			c.send(tc.frame)
			c.expect(TypeError, tc.code)
		})
	}
}

func TestVersionRule(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, nil)
	c := dialRaw(t, url, nil)
	c.send(`{"type":"join","room":"r","v":99}`)
	if f := c.expect(TypeJoined, ""); f.V != ProtocolVersion {
		t.Fatalf("joined v = %d, want %d", f.V, ProtocolVersion)
	}
}

func TestPeerIDResume(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, nil)
	const id = "stable-peer-1"
	a, watcher := dialRaw(t, url, nil), dialRaw(t, url, nil)
	watcher.join("r")
	a.send(`{"type":"join","room":"r","peerId":"` + id + `","resume":"s3cret"}`)
	if f := a.expect(TypeJoined, ""); f.PeerID != id {
		t.Fatalf("peerId = %q", f.PeerID)
	}
	watcher.expect(TypePeerJoined, "")

	thief := dialRaw(t, url, nil)
	thief.send(`{"type":"join","room":"r","peerId":"` + id + `","resume":"guess"}`)
	thief.expect(TypeError, CodePeerIDTaken)
	thief.send(`{"type":"join","room":"r","peerId":"` + id + `"}`)
	thief.expect(TypeError, CodePeerIDTaken)

	again := dialRaw(t, url, nil)
	again.send(`{"type":"join","room":"r","peerId":"` + id + `","resume":"s3cret"}`)
	if f := again.expect(TypeJoined, ""); f.PeerID != id || len(f.Peers) != 1 {
		t.Fatalf("resumed joined = %+v", f)
	}
	if code := a.expectClose(); code != CloseReplaced {
		t.Fatalf("old connection closed with %d, want %d", code, CloseReplaced)
	}
	if f := watcher.expect(TypePeerJoined, ""); f.PeerID != id {
		t.Fatalf("watcher got %+v", f)
	}
	watcher.send(`{"type":"offer","room":"r","to":"` + id + `","data":2}`)
	again.expect("offer", "")
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	s, url := testServer(t, nil)
	c := dialRaw(t, url, nil)
	c.join("r")
	rec := &responseRecorder{header: http.Header{}}
	s.HealthHandler().ServeHTTP(rec, nil)
	var h struct {
		Status      string
		Connections int
		Rooms       int
	}
	if err := json.Unmarshal(rec.body, &h); err != nil || h.Status != "ok" || h.Connections != 1 || h.Rooms != 1 {
		t.Fatalf("healthz = %s (%v)", rec.body, err)
	}
}

type responseRecorder struct {
	header http.Header
	code   int
	body   []byte
}

func (r *responseRecorder) Header() http.Header  { return r.header }
func (r *responseRecorder) WriteHeader(code int) { r.code = code }
func (r *responseRecorder) Write(b []byte) (int, error) {
	r.body = append(r.body, b...)
	return len(b), nil
}
