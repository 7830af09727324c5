package signal

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// room is a set of at most MaxMembers connections.
type room struct {
	name    string
	members []*conn // held by this node

	// With a Cluster only (clusterjoin.go), guarded by s.mu:
	rev     uint64         // revision of the last RoomView applied
	remote  []remoteMember // the members other nodes hold, sorted by peer id
	joining int            // joins waiting for Cluster.Join; keeps the room while > 0
}

// notice is a frame to deliver to some connections once s.mu is released.
type notice struct {
	to []*conn
	f  Frame

	// With a Cluster: the member that left, to remove cluster-wide.
	room, peerID, session string
}

// notify delivers the notice. from is the connection whose frame caused
// it, held back while a recipient's queue is full (see conn.send); nil when
// none (a connection that ended).
func (n notice) notify(from *conn) {
	if len(n.to) == 0 {
		return
	}
	b, err := EncodeFrame(n.f)
	if err != nil {
		return
	}
	var buf [16]*conn
	full := buf[:0]
	for _, c := range n.to {
		if c.send(b) {
			full = append(full, c)
		}
	}
	if from != nil {
		from.s.pushBack(full)
	}
}

// handle dispatches one parsed text frame from c. The frame's bytes are
// only valid during the call.
func (s *Server) handle(c *conn, in *inbound) {
	if in.scanned {
		s.relayWire(c, &in.wire)
		return
	}
	f, err := in.f, in.err
	if err != nil {
		c.sendError(CodeBadFrame, "unparsable frame")
		return
	}
	switch f.Type {
	case TypeJoin:
		s.handleJoin(c, f)
	case TypeLeave:
		s.mu.Lock()
		left := s.leaveLocked(c)
		s.mu.Unlock()
		s.left(left, c)
	case TypeMail:
		s.handleMail(c, f)
	case TypeJoined, TypePeerJoined, TypePeerLeft, TypeError, TypeReconnecting, TypeMailed:
		c.sendError(CodeBadFrame, "type "+f.Type+" is sent by the server only")
	default:
		s.handleRelay(c, f)
	}
}

// handleJoin puts c in the frame's room.
func (s *Server) handleJoin(c *conn, f Frame) {
	if f.Room == "" {
		c.sendError(CodeRoomRequired, "room required")
		return
	}
	if len(f.Room) > MaxRoomLen {
		c.sendError(CodeBadRoom, fmt.Sprintf("room longer than %d bytes", MaxRoomLen))
		return
	}
	if f.PeerID != "" && !validPeerID(f.PeerID) {
		c.sendError(CodeBadPeerID, "peerId must be 8-64 characters of A-Z a-z 0-9 _ -")
		return
	}
	if err := s.authorize(c, f); err != nil {
		// The reason (token required, expired, bad signature, another room…)
		// tells the client what to fix; it holds nothing secret.
		c.sendError(CodeUnauthorized, strings.TrimPrefix(err.Error(), ErrUnauthorized.Error()+": "))
		return
	}
	v := min(max(f.V, 1), ProtocolVersion)
	var resume [32]byte
	if f.Resume != "" {
		resume = sha256.Sum256([]byte(f.Resume))
	}

	if s.cluster != nil {
		s.handleClusterJoin(c, f, v, resume)
		return
	}
	j, ok := s.openJoinLocked(c, f, resume)
	if !ok {
		return
	}
	id, r, left := j.id, j.room, j.left
	var replaced *conn
	if r != nil && f.PeerID != "" {
		for _, m := range r.members {
			if m.id == id {
				replaced = m // openJoinLocked checked its resume secret
			}
		}
	}
	if r != nil && replaced == nil && len(r.members) >= s.opts.MaxMembers {
		s.mu.Unlock()
		s.left(left, c)
		c.sendError(CodeRoomFull, "room full")
		return
	}
	if r == nil {
		r = s.newRoomLocked(f.Room)
	}
	if replaced != nil {
		r.remove(replaced)
		replaced.room = nil
	}
	peers := make([]string, 0, len(r.members))
	others := make([]*conn, 0, len(r.members))
	for _, m := range r.members {
		peers = append(peers, m.id)
		others = append(others, m)
	}
	r.members = append(r.members, c)
	c.room, c.id, c.resume = r, id, resume
	// Queued before the room is unlocked: no later event of the room (the
	// peer-joined of the next joiner) can reach c before its joined.
	full := c.queueJoinedLocked(Frame{Type: TypeJoined, V: v, Room: r.name, PeerID: id, Peers: peers, ICEServers: j.ice})
	s.mu.Unlock()

	if full {
		s.pushBack([]*conn{c})
	}
	s.left(left, c)
	s.finishJoin(c, f, replaced, others)
}

// openingJoin is what openJoinLocked found for a join.
type openingJoin struct {
	id   string      // the member's peer id: the frame's, or a new one
	ice  []ICEServer // its ICE servers
	room *room       // the room, nil when it does not exist yet
	left notice      // the peer-left of the room c was in, for s.left
}

// openJoinLocked starts a join on either path: it picks the peer id and
// the ICE servers, takes s.mu, leaves c's current room and finds f.Room.
// It refuses the join — with s.mu released, the old room told and the
// client answered — when a new room would pass MaxRooms or f.PeerID is a
// local member's without its resume secret. ok: s.mu is held.
func (s *Server) openJoinLocked(c *conn, f Frame, resume [32]byte) (j openingJoin, ok bool) {
	j.id = f.PeerID
	if j.id == "" {
		j.id = newPeerID()
	}
	if s.opts.ICEServers != nil {
		j.ice = s.opts.ICEServers(j.id)
	}
	s.mu.Lock()
	j.left = s.leaveLocked(c)
	j.room = s.rooms[f.Room]
	refuse := func(code, msg string) (openingJoin, bool) {
		s.mu.Unlock()
		s.left(j.left, c)
		c.sendError(code, msg)
		return j, false
	}
	if j.room == nil && len(s.rooms) >= s.opts.MaxRooms {
		return refuse(CodeTooManyRooms, "too many rooms on this server")
	}
	if j.room != nil && f.PeerID != "" {
		for _, m := range j.room.members {
			if m.id == j.id && (f.Resume == "" || m.resume == [32]byte{} || subtle.ConstantTimeCompare(m.resume[:], resume[:]) != 1) {
				return refuse(CodePeerIDTaken, "peerId is in use")
			}
		}
	}
	return j, true
}

// finishJoin is the end of a join on either path, once c's joined is
// queued and s.mu released: the connection c resumed from is closed, the
// other local members get peer-joined and c its mail.
func (s *Server) finishJoin(c *conn, f Frame, replaced *conn, others []*conn) {
	if replaced != nil {
		replaced.closeWith(CloseReplaced, "peerId resumed by another connection")
	}
	notice{to: others, f: Frame{Type: TypePeerJoined, Room: f.Room, PeerID: c.id}}.notify(c)
	s.handOverMail(c, f.Room, f.Mailbox)
	s.log.Debug("joined", "peer", c.id, "resumed", replaced != nil)
}

// authorize checks the token of a join when Auth is on: the frame's token
// field, else the one given at upgrade, which must not have expired since
// (exp is checked at every join, with the Verifier's leeway).
func (s *Server) authorize(c *conn, f Frame) error {
	if s.opts.Auth == nil {
		return nil
	}
	claims := c.claims
	if f.Token != "" {
		cl, err := s.opts.Auth.Verify(f.Token)
		if err != nil {
			return err
		}
		claims = cl
	} else if claims != nil {
		if err := s.opts.Auth.stillValid(claims); err != nil {
			return err
		}
	}
	if claims == nil {
		return fmt.Errorf("%w: token required", ErrUnauthorized)
	}
	if !claims.allowsRoom(f.Room) {
		return fmt.Errorf("%w: token not valid for this room", ErrUnauthorized)
	}
	return nil
}

// handleRelay forwards f, which DecodeFrame gave, to the other members
// of its room, or to f.To. Most frames take relayWire instead.
func (s *Server) handleRelay(c *conn, f Frame) {
	var buf [16]*conn
	targets, from, fwd, ok := s.relayTargets(c, []byte(f.Room), []byte(f.To), buf[:0])
	if !ok || len(targets) == 0 && !fwd.on {
		return
	}
	b, err := encodeFrame(Frame{Type: f.Type, Room: f.Room, To: f.To, From: from, Data: f.Data})
	if err != nil {
		c.sendError(CodeBadFrame, "cannot relay frame")
		return
	}
	s.forward(f.Room, f.To, fwd, b)
	s.deliver(targets, b)
}

// relayWire is handleRelay for a frame scanRelay read: the relayed frame is
// written from the client's bytes in one allocation, shared by all the
// recipients.
func (s *Server) relayWire(c *conn, w *wireRelay) {
	var buf [16]*conn
	targets, from, fwd, ok := s.relayTargets(c, w.room, w.to, buf[:0])
	if !ok || len(targets) == 0 && !fwd.on {
		return
	}
	b := w.appendRelay(make([]byte, 0, w.relaySize(from)), from)
	if fwd.on {
		s.forward(string(w.room), string(w.to), fwd, b)
	}
	s.deliver(targets, b)
}

// relayTargets appends to buf the members of c's room held here that a
// frame for room (and for the member to, when set) goes to, and returns
// them with c's peer id and whether other nodes hold recipients too. When
// the frame cannot be relayed it answers c with an error frame and reports
// false.
func (s *Server) relayTargets(c *conn, room, to []byte, buf []*conn) ([]*conn, string, remoteTargets, bool) {
	if len(room) == 0 {
		c.sendError(CodeRoomRequired, "room required")
		return nil, "", remoteTargets{}, false
	}
	s.mu.Lock()
	r := c.room
	if r == nil || r.name != string(room) {
		s.mu.Unlock()
		c.sendError(CodeNotJoined, "join the room first")
		return nil, "", remoteTargets{}, false
	}
	for _, m := range r.members {
		if m != c && (len(to) == 0 || m.id == string(to)) {
			buf = append(buf, m)
		}
	}
	var fwd remoteTargets
	if len(r.remote) > 0 {
		if len(to) == 0 {
			fwd.on = true
		} else {
			_, fwd.on = findRemote(r.remote, string(to))
		}
		fwd.rev = r.rev
	}
	from := c.id
	s.mu.Unlock()
	if len(to) > 0 && len(buf) == 0 && !fwd.on {
		c.sendError(CodeUnknownPeer, "no such peer in the room")
		return nil, "", remoteTargets{}, false
	}
	return buf, from, fwd, true
}

// deliver queues the relayed frame b for each target, then holds the
// sender's reader (the caller) while a target's queue is full (see
// conn.send).
func (s *Server) deliver(targets []*conn, b []byte) {
	var buf [16]*conn
	full := buf[:0]
	for _, t := range targets {
		if t.send(b) {
			full = append(full, t)
		}
	}
	s.m.relayed.Add(float64(len(targets)))
	s.pushBack(full)
}

// leaveLocked removes c from its room and returns the peer-left notice for
// the remaining members. s.mu must be held.
func (s *Server) leaveLocked(c *conn) notice {
	r := c.room
	if r == nil {
		return notice{}
	}
	r.remove(c)
	c.room = nil
	var n notice
	if s.cluster != nil {
		n.room, n.peerID, n.session = r.name, c.id, c.session
	}
	if len(r.members) == 0 {
		if r.joining == 0 {
			delete(s.rooms, r.name)
			s.m.rooms.Dec()
		}
		return n
	}
	n.to, n.f = append([]*conn(nil), r.members...), Frame{Type: TypePeerLeft, Room: r.name, PeerID: c.id}
	return n
}

// left delivers the notice of a member that left (see leaveLocked) and,
// with a Cluster, removes the member cluster-wide. s.mu must not be held.
func (s *Server) left(n notice, from *conn) {
	n.notify(from)
	if n.session != "" {
		s.clusterLeave(n.room, n.peerID, n.session)
	}
}

func (r *room) remove(c *conn) {
	for i, m := range r.members {
		if m == c {
			r.members = append(r.members[:i], r.members[i+1:]...)
			r.members[len(r.members):cap(r.members)][0] = nil
			return
		}
	}
}

// newPeerID returns 96 random bits in hex.
func newPeerID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// newRoomLocked creates room name, counts it and returns it; s.mu must be
// held. Both join paths (single node and cluster) open rooms through it.
func (s *Server) newRoomLocked(name string) *room {
	r := &room{name: name}
	s.rooms[name] = r
	s.m.rooms.Inc()
	return r
}
