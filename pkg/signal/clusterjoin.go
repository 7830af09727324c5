package signal

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// clusterTimeout bounds one call to the Cluster made for a client frame.
const clusterTimeout = 5 * time.Second

// remoteTargets says whether a relayed frame also goes to members held by
// other nodes, and the room revision the sender's node has seen.
type remoteTargets struct {
	on  bool
	rev uint64
}

// handleClusterJoin is handleJoin with a Cluster: the cluster admits the
// member (cap and peer id over all nodes), and the room's members on other
// nodes come from the RoomViews it gives.
func (s *Server) handleClusterJoin(c *conn, f Frame, v int, resume [32]byte) {
	if err := s.cluster.Ready(); err != nil {
		c.sendError(CodeUnavailable, fmt.Sprintf("this node takes no joins now (%s); connect to another node", strings.TrimPrefix(err.Error(), ErrUnavailable.Error()+": ")))
		return
	}
	j, ok := s.openJoinLocked(c, f, resume)
	if !ok {
		return
	}
	id, r, left := j.id, j.room, j.left
	if r == nil {
		r = s.newRoomLocked(f.Room)
	}
	r.joining++ // keeps r, so that every RoomView told meanwhile is applied to it
	s.mu.Unlock()
	s.left(left, c)

	session := newPeerID()
	req := JoinRequest{Room: f.Room, PeerID: id, Session: session, MaxMembers: s.opts.MaxMembers}
	if f.Resume != "" {
		req.Resume = resume
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	view, err := s.cluster.Join(ctx, req)
	cancel()

	s.mu.Lock()
	if err != nil {
		r.joining--
		s.dropIfEmptyLocked(r)
		s.mu.Unlock()
		switch {
		case errors.Is(err, ErrRoomFull):
			c.sendError(CodeRoomFull, "room full")
		case errors.Is(err, ErrPeerIDTaken):
			c.sendError(CodePeerIDTaken, "peerId is in use")
		default:
			s.log.Warn("cluster join failed", "err", err)
			c.sendError(CodeUnavailable, "this node cannot reach its cluster; connect to another node")
		}
		return
	}
	evict, notices := s.applyViewLocked(r, view, false)
	r.joining--
	var replaced *conn
	for _, m := range r.members {
		if m.id == id {
			replaced = m
		}
	}
	if replaced != nil {
		r.remove(replaced)
		replaced.room = nil
	}
	peers := make([]string, 0, len(r.members)+len(r.remote))
	others := make([]*conn, 0, len(r.members))
	for _, m := range r.members {
		peers = append(peers, m.id)
		others = append(others, m)
	}
	for _, m := range r.remote { // sorted by peer id
		peers = append(peers, m.id)
	}
	r.members = append(r.members, c)
	c.room, c.id, c.resume, c.session, c.joinRev = r, id, resume, session, view.Rev
	// Queued before the room is unlocked: every later RoomView (another
	// joiner's peer-joined, here or on another node) reaches c after it.
	full := c.queueJoinedLocked(Frame{Type: TypeJoined, V: v, Room: r.name, PeerID: id, Peers: peers, ICEServers: j.ice})
	s.mu.Unlock()

	if full {
		s.pushBack([]*conn{c})
	}
	s.finishView(evict, notices)
	s.finishJoin(c, f, replaced, others)
}

// dropIfEmptyLocked forgets r when it holds no member and no join is on
// its way. s.mu must be held.
func (s *Server) dropIfEmptyLocked(r *room) {
	if len(r.members) == 0 && r.joining == 0 && s.rooms[r.name] == r {
		delete(s.rooms, r.name)
		s.m.rooms.Dec()
	}
}

// roomChanged applies a RoomView the Cluster tells (Node.RoomChanged).
func (s *Server) roomChanged(v RoomView) {
	s.mu.Lock()
	r := s.rooms[v.Room]
	if r == nil {
		s.mu.Unlock()
		return
	}
	evict, notices := s.applyViewLocked(r, v, true)
	s.mu.Unlock()
	s.finishView(evict, notices)
}

// applyViewLocked brings r up to v when v is newer (or, with same, at the
// revision applied: a state the Cluster corrected, see Node.RoomChanged):
// the members other nodes hold become r.remote, and it returns the
// peer-joined and peer-left frames owed to the members held here, and the
// members to close: those whose peer id another node took over (resumed
// there), and those the cluster no longer lists (removed while this node
// was cut off), which must join again. s.mu must be held.
func (s *Server) applyViewLocked(r *room, v RoomView, same bool) (evict []*conn, notices []notice) {
	if v.Rev < r.rev || v.Rev == r.rev && !same {
		return nil, nil
	}
	self := s.cluster.NodeID()
	remote := remoteMembers(v.Members, self)
	mine := make(map[string]string)
	for _, m := range v.Members {
		if m.Node == self {
			mine[m.PeerID] = m.Session
		}
	}
	for i := 0; i < len(r.members); i++ {
		c := r.members[i]
		_, takenOver := findRemote(remote, c.id)
		lost := c.joinRev < v.Rev && mine[c.id] != c.session
		if takenOver || lost {
			r.remove(c)
			c.room = nil
			evict = append(evict, c)
			i--
		}
	}
	var local []*conn
	if len(r.members) > 0 {
		local = append(local, r.members...)
	}
	for _, m := range remote {
		if old, ok := findRemote(r.remote, m.id); !ok || old != m.session {
			notices = append(notices, notice{to: local, f: Frame{Type: TypePeerJoined, Room: r.name, PeerID: m.id}})
		}
	}
	for _, m := range r.remote {
		if _, ok := findRemote(remote, m.id); !ok {
			notices = append(notices, notice{to: local, f: Frame{Type: TypePeerLeft, Room: r.name, PeerID: m.id}})
		}
	}
	r.rev, r.remote = v.Rev, remote
	if len(evict) > 0 {
		for _, c := range evict {
			_, there := findRemote(remote, c.id)
			_, here := mine[c.id] // resumed by a join on this node
			if !there && !here {
				// Lost, not taken over: the others here hear it left.
				notices = append(notices, notice{to: local, f: Frame{Type: TypePeerLeft, Room: r.name, PeerID: c.id}})
			}
		}
		s.dropIfEmptyLocked(r)
	}
	return evict, notices
}

// remoteMember is a member of a room that another node holds. A room keeps
// them in a slice sorted by peer id rather than a map: a room has a few
// members, and a Go map costs about 300 bytes even with one entry, for
// every room on every node.
type remoteMember struct{ id, session string }

// remoteMembers returns the members of ms that node self does not hold,
// sorted by peer id, one per peer id (the last one listed, as a map
// would keep), in a slice of their exact number; nil when none.
func remoteMembers(ms []Member, self string) []remoteMember {
	n := 0
	for _, m := range ms {
		if m.Node != self {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	rs := make([]remoteMember, 0, n)
	for _, m := range ms {
		if m.Node != self {
			rs = append(rs, remoteMember{m.PeerID, m.Session})
		}
	}
	slices.SortStableFunc(rs, func(a, b remoteMember) int { return strings.Compare(a.id, b.id) })
	out := rs[:0]
	for _, m := range rs {
		if k := len(out); k > 0 && out[k-1].id == m.id {
			out[k-1] = m
			continue
		}
		out = append(out, m)
	}
	return slices.Clip(out)
}

// findRemote returns the session of the member with peer id in rs (sorted
// by peer id).
func findRemote(rs []remoteMember, id string) (string, bool) {
	i, ok := slices.BinarySearchFunc(rs, id, func(m remoteMember, id string) int { return strings.Compare(m.id, id) })
	if !ok {
		return "", false
	}
	return rs[i].session, true
}

// finishView sends what applyViewLocked returned. s.mu must not be held.
func (s *Server) finishView(evict []*conn, notices []notice) {
	for _, n := range notices {
		n.notify(nil)
	}
	for _, c := range evict {
		s.m.dropped.WithLabelValues("taken_over").Inc()
		c.closeWith(CloseReplaced, "peerId resumed on another node, or the cluster lost this member; join again")
	}
}

// deliverForwarded queues a frame another node forwarded (Node.Deliver) for
// the members held here, and waits while their queues are full.
func (s *Server) deliverForwarded(room, to string, frame []byte) {
	var buf [16]*conn
	targets := buf[:0]
	s.mu.Lock()
	if r := s.rooms[room]; r != nil {
		for _, m := range r.members {
			if to == "" || m.id == to {
				targets = append(targets, m)
			}
		}
	}
	s.mu.Unlock()
	if len(targets) > 0 {
		s.deliver(targets, frame)
	}
}

// clusterLost closes every member this node holds (Node.ClusterLost).
func (s *Server) clusterLost(reason error) {
	var members []*conn
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	for c := range s.conns {
		if c.room != nil {
			members = append(members, c)
		}
	}
	s.mu.Unlock()
	if len(members) > 0 {
		s.log.Warn("cluster lost: closing this node's members so that they move to another node", "members", len(members), "err", reason)
	}
	for _, c := range members {
		s.m.dropped.WithLabelValues("cluster_lost").Inc()
		c.closeWith(CloseUnavailable, "this node lost its cluster; connect to another node")
	}
}

// forward hands a relayed frame to the Cluster for the members other nodes
// hold.
func (s *Server) forward(room, to string, fwd remoteTargets, b []byte) {
	if !fwd.on {
		return
	}
	if err := s.cluster.Forward(room, to, fwd.rev, b); err != nil {
		s.m.dropped.WithLabelValues("forward_failed").Inc()
		s.log.Debug("forward to the cluster failed", "err", err)
	}
}

// clusterLeave removes a member that left cluster-wide.
func (s *Server) clusterLeave(room, peerID, session string) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	if err := s.cluster.Leave(ctx, room, peerID, session); err != nil {
		// The cluster's presence sweep removes it when this node is gone.
		s.log.Warn("cluster leave failed", "err", err)
	}
}

// resumeHex is the hex form of a resume hash, "" for none.
func resumeHex(h [32]byte) string {
	if h == [32]byte{} {
		return ""
	}
	return hex.EncodeToString(h[:])
}
