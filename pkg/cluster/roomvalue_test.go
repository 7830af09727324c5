package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/signal/signaltest"
)

// benchRoom is a full room as the servers make it: 24-digit hex peer ids
// and sessions, 16-digit node ids, half the members with a resume hash.
func benchRoom() roomValue {
	v := roomValue{Room: "idle-123456-1874"}
	nodes := []string{"0123456789abcdef", "fedcba9876543210", "00ff00ff00ff00ff"}
	for i := range 8 {
		m := signal.Member{
			PeerID:  strings.Repeat("a1", 10) + "00c" + string(rune('0'+i)),
			Node:    nodes[i%3],
			Session: strings.Repeat("5e", 11) + "0" + string(rune('0'+i)),
		}
		if i%2 == 0 {
			m.Resume = strings.Repeat("9f", 31) + "0" + string(rune('0'+i))
		}
		v.Members = append(v.Members, m)
	}
	return v
}

func TestRoomValueRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    roomValue
	}{
		{"server-made ids", benchRoom()},
		{"one member", roomValue{Room: "r", Members: []signal.Member{{PeerID: "p1234567", Node: "node0", Session: "abcdef012345abcdef012345"}}}},
		{"ids that are not lower-case hex", roomValue{Room: "Ünïcode room 🎉", Members: []signal.Member{
			{PeerID: "ABCDEF0123", Node: "node-1", Session: "abc", Resume: "ABCD"},
			{PeerID: "peer_with-dash", Node: "n_2", Session: "0", Resume: ""},
			{PeerID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Node: "node-1", Session: "s"},
		}}},
		{"no members", roomValue{Room: "empty"}},
		{"more than 8 nodes", func() roomValue {
			v := roomValue{Room: "many"}
			for i := range 12 {
				v.Members = append(v.Members, signal.Member{PeerID: "peer" + strings.Repeat("x", i+4), Node: "n" + strings.Repeat("1", i+1), Session: "s"})
			}
			return v
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := appendRoom(nil, tc.v.Room, tc.v.Members)
			var got roomValue
			if err := decodeRoom(b, &got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.v) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.v)
			}
		})
	}
}

// TestRoomValueSize: the binary value of a full room is well under half its
// JSON (the first encoding), which every compare-and-set writes to the
// bucket's Raft log.
func TestRoomValueSize(t *testing.T) {
	t.Parallel()
	v := benchRoom()
	old, _ := json.Marshal(v)
	b := appendRoom(nil, v.Room, v.Members)
	t.Logf("full room of 8: JSON %d bytes, binary %d bytes", len(old), len(b))
	if 5*len(b) > 2*len(old) {
		t.Fatalf("binary value is %d bytes, JSON %d: want at most 40%%", len(b), len(old))
	}
}

// TestRoomValueReadsJSON: values written by an older vtpeer (JSON) are still
// read, and their node ids interned as the binary decoder's are.
func TestRoomValueReadsJSON(t *testing.T) {
	t.Parallel()
	old := `{"room":"r","members":[{"id":"peer-aaaa","node":"n1","session":"s1","resume":"` +
		strings.Repeat("ab", 32) + `"},{"id":"peer-bbbb","node":"n1","session":"s2"}]}`
	var v roomValue
	if err := decodeRoom([]byte(old), &v); err != nil {
		t.Fatal(err)
	}
	want := roomValue{Room: "r", Members: []signal.Member{
		{PeerID: "peer-aaaa", Node: "n1", Session: "s1", Resume: strings.Repeat("ab", 32)},
		{PeerID: "peer-bbbb", Node: "n1", Session: "s2"},
	}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %+v, want %+v", v, want)
	}
	var w roomValue
	if err := decodeRoom(appendRoom(nil, "r2", want.Members), &w); err != nil {
		t.Fatal(err)
	}
	if unsafe.StringData(v.Members[0].Node) != unsafe.StringData(v.Members[1].Node) ||
		unsafe.StringData(v.Members[0].Node) != unsafe.StringData(w.Members[0].Node) {
		t.Fatal("node ids of different members and values are not one string")
	}
	if err := decodeRoom([]byte(`{"room":`), &v); err == nil {
		t.Fatal("truncated JSON decoded")
	}
}

func TestRoomValueRejects(t *testing.T) {
	t.Parallel()
	good := appendRoom(nil, "room", benchRoom().Members)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown version", append([]byte{9}, good[1:]...)},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"node index out of range", appendRaw(1, "r", []string{"n"}, 1, "p", 1)},
		{"member count past the end", []byte{1, 2, 'r', 0, 200, 1}},
		{"string past the end", []byte{1, 40, 'r'}},
		{"overlong uvarint", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v roomValue
			if err := decodeRoom(tc.b, &v); !errors.Is(err, ErrBadRoomValue) {
				t.Fatalf("decodeRoom(%x) = %v, want ErrBadRoomValue", tc.b, err)
			}
		})
	}
	// Every truncation of a good value fails cleanly.
	for i := range len(good) {
		var v roomValue
		if err := decodeRoom(good[:i], &v); err == nil {
			t.Fatalf("decodeRoom of the first %d of %d bytes succeeded", i, len(good))
		}
	}
}

// nodeTable is the node table appendRoom writes for members.
func nodeTable(members []signal.Member) []string {
	var nodes []string
	for _, m := range members {
		if !slices.Contains(nodes, m.Node) {
			nodes = append(nodes, m.Node)
		}
	}
	return nodes
}

// appendRaw builds a value by hand: one node, one member whose node index
// is idx.
func appendRaw(version byte, room string, nodes []string, members int, peer string, idx byte) []byte {
	b := []byte{version}
	b = appendStr(b, room)
	b = append(b, byte(len(nodes)))
	for _, n := range nodes {
		b = appendStr(b, n)
	}
	b = append(b, byte(members))
	b = appendStr(b, peer)
	b = append(b, idx)
	b = appendStr(b, "s")
	return appendStr(b, "")
}

// TestMemberNode: Forward finds the node of a peer in the encoded value.
func TestMemberNode(t *testing.T) {
	t.Parallel()
	v := benchRoom()
	v.Members = append(v.Members, signal.Member{PeerID: "Not-Hex_id", Node: "other", Session: "x"})
	b := appendRoom(nil, "", v.Members)
	st := roomState{value: b}
	for _, m := range v.Members {
		if !slices.Contains(st.nodes, m.Node) {
			st.nodes = append(st.nodes, m.Node)
		}
	}
	for _, m := range v.Members {
		if got := st.nodeOf(m.PeerID); got != m.Node {
			t.Errorf("nodeOf(%s) = %q, want %q", m.PeerID, got, m.Node)
		}
	}
	for _, id := range []string{"", "nobody-here", v.Members[0].PeerID + "0", strings.ToUpper(v.Members[0].PeerID)} {
		if got := st.nodeOf(id); got != "" {
			t.Errorf("nodeOf(%q) = %q, want none", id, got)
		}
	}
	if got := (&roomState{}).nodeOf(v.Members[0].PeerID); got != "" {
		t.Errorf("nodeOf in an emptied room = %q", got)
	}
}

func FuzzDecodeRoom(f *testing.F) {
	v := benchRoom()
	f.Add(appendRoom(nil, v.Room, v.Members))
	f.Add(appendRoom(nil, "r", nil))
	f.Add([]byte(`{"room":"r","members":[{"id":"peer-aaaa","node":"n1","session":"s1"}]}`))
	f.Add([]byte{1, 2, 'r', 1, 3, 0xab, 1, 2, 'p', 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = memberNode(b, "peer-aaaa") // any bytes: no panic
		var v roomValue
		if err := decodeRoom(b, &v); err != nil {
			return
		}
		enc := appendRoom(nil, v.Room, v.Members)
		for _, m := range v.Members {
			i := memberNode(enc, m.PeerID)
			if first := slices.IndexFunc(v.Members, func(o signal.Member) bool { return o.PeerID == m.PeerID }); i < 0 || v.Members[first].Node != nodeTable(v.Members)[i] {
				t.Fatalf("memberNode(%q) = %d", m.PeerID, i)
			}
		}
		// What decodes encodes back to a value that decodes the same.
		var w roomValue
		if err := decodeRoom(appendRoom(nil, v.Room, v.Members), &w); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if len(v.Members) == 0 {
			v.Members = nil
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("re-encoded value differs:\n got %+v\nwant %+v", w, v)
		}
	})
}

// TestJoinRoomWrittenAsJSON: a room whose value an older vtpeer wrote (the
// JSON encoding) is read by today's nodes: a join sees its members, the
// cap counts them, and the write that admits the joiner stores the binary
// encoding with every member kept.
func TestJoinRoomWrittenAsJSON(t *testing.T) {
	t.Parallel()
	prefix := newPrefix()
	c0 := newCluster(t, 0, prefix, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := roomValue{Room: "legacy", Members: []signal.Member{
		{PeerID: "oldpeer-1", Node: c0.NodeID(), Session: "sess-1"},
		{PeerID: "oldpeer-2", Node: c0.NodeID(), Session: "sess-2", Resume: strings.Repeat("cd", 32)},
	}}
	js, _ := json.Marshal(old)
	if _, err := c0.kv.Put(ctx, roomKey("legacy"), js); err != nil {
		t.Fatal(err)
	}
	url := startServer(t, &signal.ServerOptions{Cluster: newCluster(t, 1, prefix, nil), MaxMembers: 3})
	a := signaltest.Dial(t, url)
	j := a.Join("legacy")
	if len(j.Peers) != 2 || j.Peers[0] != "oldpeer-1" || j.Peers[1] != "oldpeer-2" {
		t.Fatalf("joined.peers = %v, want the two members of the JSON value", j.Peers)
	}
	b := signaltest.Dial(t, url)
	b.Send(`{"type":"join","room":"legacy"}`)
	b.Expect(signal.TypeError, signal.CodeRoomFull)
	e, err := c0.kv.Get(ctx, roomKey("legacy"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Value()[0] != roomValueVersion {
		t.Fatalf("value after the join starts with %q, want the binary encoding", e.Value()[0])
	}
	var now roomValue
	if err := decodeRoom(e.Value(), &now); err != nil {
		t.Fatal(err)
	}
	if len(now.Members) != 3 || !reflect.DeepEqual(now.Members[:2], old.Members) || now.Members[2].PeerID != j.PeerID {
		t.Fatalf("value after the join = %+v", now)
	}
}
