package peer

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// Node is this process's member of a room: it keeps one sealed, reliable session per peer, each
// running over a transport (a pion PeerConnection with one DataChannel) that may be replaced.
// All methods are safe for concurrent use.
type Node struct {
	opts     Options
	log      *slog.Logger
	stack    *pionStack
	instance uint64
	events   *eventQueue
	sig      *signalQueue

	ctx    context.Context // cancelled by Close; only for the Node's own goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	selfID  string
	ice     []ICEServer
	peers   map[string]*peerState
	lastGen uint64

	accountSASes map[string]string // lower-case address → the SAS last shown for it

	metrics *metrics
	chans   *chanRegistry // extra DataChannels the peers opened (channel.go)
}

// PeerInfo describes one peer the Node knows.
type PeerInfo struct {
	ID            string
	Connected     bool
	SAS           string
	Address       string
	Path          string
	CandidateType string
	Unacked       int // messages sent but not yet acknowledged
}

// New creates a Node and opens its ICE UDP socket. It does not contact anyone until Joined.
func New(opts *Options) (*Node, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	stack, err := newPionStack(&o)
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	var ib [8]byte
	if _, err := rand.Read(ib[:]); err != nil {
		return nil, fmt.Errorf("peer: instance id: %w", err)
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("peer: metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{metrics: m, chans: newChanRegistry(),
		opts: o, log: o.Logger, stack: stack,
		instance: binary.BigEndian.Uint64(ib[:]) | 1,
		events:   newEventQueue(defaultEventLimit),
		ctx:      ctx, cancel: cancel,
		ice:   o.ICEServers,
		peers: map[string]*peerState{}, accountSASes: map[string]string{},
	}
	n.sig = newSignalQueue(n)
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.events.run() }()
	go func() { defer n.wg.Done(); n.sig.run(ctx) }()
	return n, nil
}

// Events returns the channel of events. It is closed by Close. Events are queued without bound
// (up to a very large limit) so pion callbacks never block; read it continuously.
func (n *Node) Events() <-chan Event { return n.events.out }

func (n *Node) emit(e Event) { n.events.push(e) }

// Joined is called when the signaling client has joined (or re-joined) the room as selfID;
// peers are the members already there. The newer member offers to every listed peer it has no
// live session with. ice, if non-nil, replaces the ICE servers for new PeerConnections.
func (n *Node) Joined(ctx context.Context, selfID string, peers []string, ice []ICEServer) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.selfID = selfID
	if ice != nil {
		n.ice = ice
	}
	var offer, offerRelay []*peerState
	for _, id := range peers {
		if id == selfID {
			continue
		}
		p := n.peerLocked(id)
		p.mu.Lock()
		p.left = false
		idle := p.link == nil && (p.ice == nil || p.ice.isDead()) && (p.srv == nil || p.srv.isDead())
		relay := p.reofferRelayLocked() // the same rule as PeerJoined's
		p.mu.Unlock()
		switch {
		case idle && relay: // the session ran over the relay until PeerLeft: resume it there
			offerRelay = append(offerRelay, p)
		case idle:
			offer = append(offer, p)
		}
	}
	n.mu.Unlock()
	for _, p := range offer {
		n.connect(p)
	}
	for _, p := range offerRelay {
		n.connectRelay(p)
	}
}

// PeerJoined records that id joined the room. A new member offers to us; a member that resumed
// its signaling connection keeps its sessions. If we dropped our relay transport with id when
// signaling said it left (PeerLeft), we offer a new one whatever our role: the member resumed its
// peer id after we saw it leave and may still hold its end of the old transport, which it has no
// reason to replace (issue 11: its node died and its rejoin took longer than the dead-node report).
// The new transport continues the session (a candidate at its end while the old one looks live
// there) and the unacknowledged messages are resent on it; if the peer offers too, the usual glare
// rule picks one.
func (n *Node) PeerJoined(id string) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	p := n.peerLocked(id)
	n.mu.Unlock()
	p.mu.Lock()
	p.left = false
	offer := p.reofferRelayLocked()
	p.mu.Unlock()
	if offer {
		n.log.Debug("peer: back after peer-left; offering a new relay transport", "peer", id)
		n.connectRelay(p)
	}
}

// PeerLeft records that signaling says id left. It is informational: a live DataChannel is not
// torn down, but a dead one is no longer renegotiated. A server-relay transport is closed (it
// cannot outlive the peer's membership); the peer may not learn it (its signaling connection is
// gone), so if it comes back with the same id, PeerJoined (or our own Joined) offers a new one.
func (n *Node) PeerLeft(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.peers[id]; p != nil {
		p.mu.Lock()
		p.left = true
		p.departed = true // a process that rejoins under this id may start a new session
		srv := p.srv      // a server-relay transport cannot outlive its peer's signaling membership
		var cand *link
		if p.cand != nil && p.cand.relay {
			cand = p.cand
		}
		if (srv != nil && !srv.isDead()) || (cand != nil && !cand.isDead()) {
			p.relayCut = true // if it comes back with this id, PeerJoined offers a new one
		}
		p.mu.Unlock()
		for _, l := range []*link{cand, srv} { // the candidate first: it must not take over
			if l != nil {
				l.close(errPeerLeft)
			}
		}
		select {
		case p.leftKick <- struct{}{}:
		default:
		}
	}
}

// Send queues one application message for peer, sealed, reliable and ordered, and returns once
// it is queued (it blocks, honouring ctx, while the transport's send buffer is full). A message
// sent while the peer's transport recovers is delivered once it is back.
func (n *Node) Send(ctx context.Context, peer, kind string, body []byte) error {
	if len(kind) > maxKindLen {
		return fmt.Errorf("%w: kind longer than %d bytes", ErrMessageTooBig, maxKindLen)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	p := n.peers[peer]
	n.mu.Unlock()
	if p == nil {
		return fmt.Errorf("send to %q: %w", peer, ErrUnknownPeer)
	}
	return p.send(ctx, kind, body)
}

// WaitAcked blocks until everything sent to peer so far is acknowledged by it, or ctx ends.
func (n *Node) WaitAcked(ctx context.Context, peer string) error {
	n.mu.Lock()
	p := n.peers[peer]
	n.mu.Unlock()
	if p == nil {
		return fmt.Errorf("wait acked %q: %w", peer, ErrUnknownPeer)
	}
	return p.waitAcked(ctx)
}

// Peers lists the known peers, sorted by id.
func (n *Node) Peers() []PeerInfo {
	n.mu.Lock()
	ps := make([]*peerState, 0, len(n.peers))
	for _, p := range n.peers {
		ps = append(ps, p)
	}
	n.mu.Unlock()
	out := make([]PeerInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Close closes every PeerConnection and the UDP socket, waits for the Node's goroutines and then
// closes Events. Unacknowledged messages are dropped.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	var links []*link
	for _, p := range n.peers {
		p.mu.Lock()
		for _, l := range []*link{p.link, p.ice, p.srv, p.up, p.cand} {
			if l != nil {
				links = append(links, l)
			}
		}
		p.closed = true
		p.stopTimersLocked()
		p.mu.Unlock()
		p.wake()
	}
	n.mu.Unlock()
	n.cancel()
	for _, l := range links {
		l.close(nil)
	}
	close(n.events.done)
	n.wg.Wait()
	return nil
}

// peerLocked returns the state for id, creating it. n.mu must be held.
func (n *Node) peerLocked(id string) *peerState {
	p := n.peers[id]
	if p == nil {
		p = newPeerState(n, id)
		n.peers[id] = p
	}
	return p
}

// goTracked runs f in a goroutine that Close waits for. It returns false after Close.
func (n *Node) goTracked(f func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); f() }()
	return true
}

func (n *Node) iceServers() []ICEServer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ice
}
