package peer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// peerState is the sealed, reliable session with one peer id. It outlives links: sequence
// numbers, the outbox of unacknowledged messages and the receive cursor survive a replaced
// transport, which is how messages sent while a link recovers arrive exactly once, in order.
type peerState struct {
	n  *Node
	id string

	sendMu sync.Mutex // serializes Send and the resend on a new link, so frames go out in seq order

	mu         sync.Mutex
	link       *link
	closed     bool
	left       bool
	rejected   bool
	recovering bool
	nextSeq    uint64 // last assigned
	outbox     []outMsg
	outBytes   int
	remoteInst uint64
	delivered  uint64 // last seq delivered from remoteInst
	ackSent    uint64 // last cumulative ack sent (standalone or piggybacked)
	maxFrame   int    // largest sealed frame the peer accepted on the last ready link
	forceAck   bool   // send an ack even if nothing new was delivered (new link)
	ackCh      chan struct{}
	ackKick    chan struct{}
	connected  bool
	conn       PeerConnected
	earlyICE   map[uint64][]webrtc.ICECandidateInit
	readyCh    chan struct{} // closed and replaced when a link becomes ready
}

type outMsg struct {
	seq   uint64
	frame []byte // encoded data frame (plaintext inside the seal)
}

func newPeerState(n *Node, id string) *peerState {
	return &peerState{n: n, id: id, maxFrame: n.opts.MaxMessageSize, ackCh: make(chan struct{}), ackKick: make(chan struct{}, 1),
		readyCh: make(chan struct{}), earlyICE: map[uint64][]webrtc.ICECandidateInit{}}
}

// wake releases WaitAcked callers. p.mu must not be held.
func (p *peerState) wake() {
	p.mu.Lock()
	close(p.ackCh)
	p.ackCh = make(chan struct{})
	p.mu.Unlock()
}

func (p *peerState) reject() {
	p.mu.Lock()
	p.rejected = true
	p.mu.Unlock()
}

func (p *peerState) info() PeerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PeerInfo{ID: p.id, Connected: p.connected, SAS: p.conn.SAS, Address: p.conn.Address,
		Path: p.conn.Path, CandidateType: p.conn.CandidateType, Unacked: len(p.outbox)}
}

// baseSeq is the lowest sequence number we will (re)send on a new link.
func (p *peerState) baseSeq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.outbox) > 0 {
		return p.outbox[0].seq
	}
	return p.nextSeq + 1
}

func (p *peerState) send(ctx context.Context, kind string, body []byte) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	p.mu.Lock()
	l := p.link
	ready := l != nil && l.ready
	p.mu.Unlock()
	// Without a live link, the last peer maximum we saw applies (ours until we have seen one).
	p.mu.Lock()
	limit := p.maxFrame
	p.mu.Unlock()
	if ready {
		limit = l.maxFrame()
	}
	if size := seal.Overhead + dataHeaderLen + len(kind) + len(body); size > limit {
		return fmt.Errorf("%w: %d byte frame, limit %d", ErrMessageTooBig, size, limit)
	}
	if ready {
		// Back pressure before taking a sequence number: a cancelled wait queues nothing.
		if err := l.waitWritable(ctx); err != nil && ctx.Err() != nil {
			return fmt.Errorf("send to %s: %w", p.id, err)
		}
	}
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return ErrClosed
		}
		if p.outBytes+len(body) <= p.n.opts.MaxOutboxBytes || len(p.outbox) == 0 {
			break
		}
		// Too much unacknowledged: on a live link wait for acks; otherwise refuse.
		ch := p.ackCh
		live := p.link != nil && p.link.ready
		p.mu.Unlock()
		if !live {
			return fmt.Errorf("send to %s: %w", p.id, ErrOutboxFull)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("send to %s: %w", p.id, ctx.Err())
		}
		p.mu.Lock()
	}
	p.nextSeq++
	m := outMsg{seq: p.nextSeq, frame: encodeData(p.nextSeq, kind, body)}
	p.outbox = append(p.outbox, m)
	p.outBytes += len(m.frame)
	ready = p.link == l && l != nil && l.ready
	p.mu.Unlock()
	if ready {
		if err := p.writeData(l, m.frame); err != nil {
			// Kept in the outbox: it is resent on the next link.
			l.close(err)
		}
	}
	return nil
}

func (p *peerState) waitAcked(ctx context.Context) error {
	for {
		p.mu.Lock()
		empty, closed, ch := len(p.outbox) == 0, p.closed, p.ackCh
		p.mu.Unlock()
		if empty {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait acked %s: %w", p.id, ctx.Err())
		}
	}
}

// onStart records the peer's instance: a new instance starts its stream at base.
func (p *peerState) onStart(instance, base uint64) {
	p.mu.Lock()
	if instance != p.remoteInst {
		p.remoteInst = instance
		p.delivered = base - 1
	}
	p.forceAck = true
	p.mu.Unlock()
	p.kickAck()
}

func (p *peerState) onData(l *link, f appFrame) error {
	p.mu.Lock()
	switch {
	case f.seq <= p.delivered: // resent after a transport change: already delivered
	case f.seq == p.delivered+1:
		p.delivered++
		p.n.emit(Message{Peer: p.id, Kind: f.kind, Body: f.body}) // f.body aliases a fresh Open buffer
	default:
		want := p.delivered + 1
		p.mu.Unlock()
		return fmt.Errorf("%w: seq %d, want %d", ErrProtocol, f.seq, want)
	}
	p.mu.Unlock()
	p.kickAck()
	return nil
}

func (p *peerState) onAck(seq uint64) {
	p.mu.Lock()
	i := 0
	for i < len(p.outbox) && p.outbox[i].seq <= seq {
		p.outBytes -= len(p.outbox[i].frame)
		i++
	}
	if i > 0 {
		clear(p.outbox[:i]) // release the frames; append reallocates the array as it goes
		p.outbox = p.outbox[i:]
		close(p.ackCh)
		p.ackCh = make(chan struct{})
	}
	p.mu.Unlock()
}

func (p *peerState) kickAck() {
	select {
	case p.ackKick <- struct{}{}:
	default:
	}
}

// ackDelay is how long a receiver waits for outgoing data to carry its ack before sending a
// standalone ack frame.
const ackDelay = 2 * time.Millisecond

// writeData seals a data frame with the current cumulative ack piggybacked.
func (p *peerState) writeData(l *link, frame []byte) error {
	return l.writeSealed(frame, func() {
		p.mu.Lock()
		d := p.delivered
		p.ackSent = d
		p.mu.Unlock()
		setDataAck(frame, d)
	})
}

// ackLoop sends a standalone cumulative ack ackDelay after a delivery unless data going back
// carried it meanwhile; bursts coalesce through the 1-slot kick channel.
func (p *peerState) ackLoop(l *link) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-p.ackKick:
		case <-l.deadCh:
			return
		}
		t.Reset(ackDelay)
		select {
		case <-t.C:
		case <-l.deadCh:
			return
		}
		p.mu.Lock()
		d := p.delivered
		need := d > p.ackSent || p.forceAck
		p.ackSent, p.forceAck = d, false
		p.mu.Unlock()
		if !need {
			continue
		}
		if err := l.writeSealed(encodeAck(d), nil); err != nil {
			l.close(err)
			return
		}
	}
}

// onLinkReady runs when both start frames are exchanged: it resends the outbox and goes live.
func (p *peerState) onLinkReady(l *link, ev PeerConnected) {
	p.sendMu.Lock()
	p.mu.Lock()
	if p.link != l || l.isDead() || p.closed {
		p.mu.Unlock()
		p.sendMu.Unlock()
		return
	}
	pending := append([]outMsg(nil), p.outbox...)
	p.maxFrame = l.maxFrame()
	l.mu.Lock()
	l.ready = true
	l.mu.Unlock()
	p.connected, p.conn, p.recovering = true, ev, false
	close(p.readyCh)
	p.readyCh = make(chan struct{})
	p.mu.Unlock()
	p.n.emit(ev)
	p.n.goTracked(func() { p.ackLoop(l) })
	for _, m := range pending {
		if len(m.frame)+seal.Overhead > l.maxFrame() {
			// Queued for a previous peer that accepted larger messages: it cannot be delivered
			// in order any more, so give up on the session rather than loop or skip a number.
			p.sendMu.Unlock()
			l.fail(CodeTransport, fmt.Errorf("resend to %s: %w: %d byte frame, peer limit %d",
				p.id, ErrMessageTooBig, len(m.frame)+seal.Overhead, l.maxFrame()))
			return
		}
		if err := l.waitWritable(p.n.ctx); err != nil {
			break
		}
		if err := p.writeData(l, m.frame); err != nil {
			l.close(err)
			break
		}
	}
	p.sendMu.Unlock()
}

// onLinkDead runs once per link. Only the current link matters; a replaced one is ignored.
func (p *peerState) onLinkDead(l *link, err error) {
	p.mu.Lock()
	if p.link != l {
		p.mu.Unlock()
		return
	}
	p.link = nil
	was := p.connected
	p.connected = false
	stop := p.closed || p.rejected
	nodeClosed := p.closed
	left := p.left
	start := !stop && !left && !p.recovering
	if start {
		p.recovering = true
	}
	p.mu.Unlock()
	if stop {
		if was && !nodeClosed {
			p.n.emit(PeerLeft{Peer: p.id, Reason: "closed"})
		}
		return
	}
	if left {
		if was {
			p.n.emit(PeerLeft{Peer: p.id, Reason: "left"})
		}
		return
	}
	p.n.log.Debug("peer: transport lost, renegotiating", "peer", p.id, "err", err)
	if start {
		offerer := l.offerer
		p.n.goTracked(func() { p.recover(offerer, l.gen) })
	}
}

// recover renegotiates a new PeerConnection after a transport died: the side that offered the dead
// link offers again; the other asks it to with a restart frame. It gives up after a few attempts.
func (p *peerState) recover(offerer bool, deadGen uint64) {
	const attempts = 5
	wait := 2 * p.n.opts.knobs.restartWait
	for i := 0; i < attempts; i++ {
		p.mu.Lock()
		ch := p.readyCh
		done := p.closed || p.rejected || p.left || (p.link != nil && p.link.ready)
		p.mu.Unlock()
		if done {
			break
		}
		if offerer {
			p.n.connect(p)
		} else {
			p.n.sig.push(p.id, SignalRestart, sigPayload{Gen: deadGen})
		}
		t := time.NewTimer(wait)
		select {
		case <-ch:
			t.Stop()
			return
		case <-t.C:
		case <-p.n.ctx.Done():
			t.Stop()
			return
		}
	}
	p.mu.Lock()
	p.recovering = false
	gaveUp := !p.closed && !p.connected
	p.mu.Unlock()
	if gaveUp {
		p.n.emit(PeerLeft{Peer: p.id, Reason: "timeout"})
	}
}
