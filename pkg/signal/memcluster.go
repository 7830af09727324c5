package signal

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemCluster is the in-process Cluster: several Servers in one process
// share rooms through it, each through its own NewNode. It is what a
// cluster engine must do, in a few lines, and lets the protocol run across
// nodes without one. Every call is synchronous: a frame or a room state
// reaches the other Servers before the call returns.
type MemCluster struct {
	mu    sync.Mutex
	rev   uint64
	rooms map[string][]Member
	nodes map[string]Node
}

// NewMemCluster returns an empty in-process cluster.
func NewMemCluster() *MemCluster {
	return &MemCluster{rooms: make(map[string][]Member), nodes: make(map[string]Node)}
}

// NewNode returns the Cluster for one Server, named id (unique in h).
func (h *MemCluster) NewNode(id string) Cluster { return &memNode{h: h, id: id} }

type memNode struct {
	h  *MemCluster
	id string
}

func (n *memNode) NodeID() string { return n.id }

func (n *memNode) Ready() error { return nil }

func (n *memNode) Attach(node Node) func() {
	n.h.mu.Lock()
	n.h.nodes[n.id] = node
	n.h.mu.Unlock()
	return func() {
		n.h.mu.Lock()
		delete(n.h.nodes, n.id)
		n.h.mu.Unlock()
	}
}

func (n *memNode) Join(_ context.Context, j JoinRequest) (RoomView, error) {
	h := n.h
	h.mu.Lock()
	members := h.rooms[j.Room]
	i := slices.IndexFunc(members, func(m Member) bool { return m.PeerID == j.PeerID })
	switch {
	case i >= 0 && (j.Resume == [32]byte{} || members[i].Resume != resumeHex(j.Resume)):
		h.mu.Unlock()
		return RoomView{}, fmt.Errorf("join %s: %w", j.Room, ErrPeerIDTaken)
	case i < 0 && len(members) >= j.MaxMembers:
		h.mu.Unlock()
		return RoomView{}, fmt.Errorf("join %s: %w", j.Room, ErrRoomFull)
	}
	m := Member{PeerID: j.PeerID, Node: n.id, Session: j.Session, Resume: resumeHex(j.Resume)}
	members = slices.Clone(members)
	if i >= 0 {
		members[i] = m
	} else {
		members = append(members, m)
	}
	v := h.setLocked(j.Room, members)
	return v, nil
}

func (n *memNode) Leave(_ context.Context, room, peerID, session string) error {
	h := n.h
	h.mu.Lock()
	members := h.rooms[room]
	i := slices.IndexFunc(members, func(m Member) bool { return m.PeerID == peerID && m.Session == session })
	if i < 0 {
		h.mu.Unlock()
		return nil
	}
	h.setLocked(room, slices.Delete(slices.Clone(members), i, i+1))
	return nil
}

// setLocked stores the room's new members, unlocks h.mu and tells every
// node.
func (h *MemCluster) setLocked(room string, members []Member) RoomView {
	h.rev++
	if len(members) == 0 {
		delete(h.rooms, room)
	} else {
		h.rooms[room] = members
	}
	v := RoomView{Room: room, Rev: h.rev, Members: members}
	nodes := make([]Node, 0, len(h.nodes))
	for _, nd := range h.nodes {
		nodes = append(nodes, nd)
	}
	h.mu.Unlock()
	for _, nd := range nodes {
		nd.RoomChanged(v)
	}
	return v
}

func (n *memNode) Forward(room, to string, _ uint64, frame []byte) error {
	h := n.h
	h.mu.Lock()
	nodes := make([]Node, 0, len(h.nodes))
	for id, nd := range h.nodes {
		if id != n.id {
			nodes = append(nodes, nd)
		}
	}
	h.mu.Unlock()
	for _, nd := range nodes {
		nd.Deliver(room, to, frame)
	}
	return nil
}
