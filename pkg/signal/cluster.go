package signal

import (
	"context"
)

// Cluster carries room membership and frames between the signaling
// servers ("nodes") of a cluster, the way tailscale's derp servers forward
// packets to clients held by another derp node. A Server without one
// (ServerOptions.Cluster nil) holds every member of its rooms itself.
//
// The Server keeps the connections it holds; the Cluster is the authority
// on who is in a room across all nodes. It admits members (Join: the member
// cap and the peer id are checked cluster-wide, atomically), and tells the
// Server, through the Node given to Attach, every new state of a room it
// learns (Node.RoomChanged: a RoomView at a revision) and every frame
// another node forwards to a member here (Node.Deliver). The Server diffs
// the states it is told into peer-joined and peer-left frames for its own
// members, and closes a member whose peer id another node took over.
//
// pkg/signal holds an in-process implementation (MemCluster, several
// Servers in one process); pkg/cluster holds the NATS one.
type Cluster interface {
	// NodeID names this node: Member.Node of the members it holds.
	NodeID() string
	// Attach gives the Cluster the node to call back; NewServer calls it
	// once, before serving. detach stops the calls; Server.Close calls it.
	Attach(n Node) (detach func())
	// Join admits a member cluster-wide and returns the room as it stands
	// with the member in it. It fails with an error wrapping ErrRoomFull
	// when the room already has MaxMembers members, ErrPeerIDTaken when
	// the peer id is held with another resume secret, or ErrUnavailable
	// when the cluster cannot decide (the node lost its peers).
	Join(ctx context.Context, j JoinRequest) (RoomView, error)
	// Leave removes the member with this session from the room, unless its
	// peer id has since been taken over by another session.
	Leave(ctx context.Context, room, peerID, session string) error
	// Forward sends frame, the bytes a member of room gets, to the members
	// of room held by other nodes: all of them, or only the one whose peer
	// id is to. rev is the revision of the room the sender's node has seen:
	// a node that has not seen it yet catches up (RoomChanged) before it
	// delivers, so a frame never overtakes its sender's peer-joined. frame
	// must not change after the call.
	Forward(room, to string, rev uint64, frame []byte) error
	// Ready reports why the node cannot take joins (nil: it can).
	Ready() error
}

// Node is what a Cluster calls back: the Server that Attach was given.
// Its methods are safe for concurrent use.
type Node interface {
	// RoomChanged tells the node a room's members at revision v.Rev. States
	// older than one already told are ignored; a state at the revision
	// already told replaces it (the Cluster hides the members of a node it
	// found dead before the room's next revision removes them, and shows
	// them again if the node comes back). The Cluster tells one room's
	// states one at a time.
	RoomChanged(v RoomView)
	// Deliver queues frame for the node's members of room (only the one
	// with peer id to, when set), and returns when their queues have room
	// again (shaping, as between members of one node).
	Deliver(room, to string, frame []byte)
	// ClusterLost tells the node that the cluster can no longer vouch for
	// its members (it lost NATS, or JetStream its quorum): the node closes
	// every member it holds (CloseUnavailable) so that they reconnect to
	// another node, as the other nodes are about to report them gone.
	ClusterLost(reason error)
}

// JoinRequest is one member entering a room (Cluster.Join).
type JoinRequest struct {
	Room    string
	PeerID  string
	Session string   // random per join; changes when the peer id is resumed
	Resume  [32]byte // SHA-256 of the resume secret; zero: none
	// MaxMembers caps the room's members over all nodes.
	MaxMembers int
}

// Member is one member of a room as the cluster records it.
type Member struct {
	PeerID  string `json:"id"`
	Node    string `json:"node"`
	Session string `json:"session"`
	// Resume is the hex SHA-256 of the resume secret, "" when none.
	Resume string `json:"resume,omitempty"`
}

// RoomView is a room's members over all nodes at one revision. Revisions of
// one room only grow; an empty Members means the room is gone.
type RoomView struct {
	Room    string
	Rev     uint64
	Members []Member
}

// clusterNode is the Node a Server gives its Cluster.
type clusterNode struct{ s *Server }

func (n clusterNode) RoomChanged(v RoomView) { n.s.roomChanged(v) }

func (n clusterNode) Deliver(room, to string, frame []byte) { n.s.deliverForwarded(room, to, frame) }

func (n clusterNode) ClusterLost(reason error) { n.s.clusterLost(reason) }
