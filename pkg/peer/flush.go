package peer

import (
	"context"
	"time"
)

// drainPoll is how often Flush looks at a DataChannel's buffered amount:
// pion reports no event when it reaches zero (OnBufferedAmountLow fires at
// the channel's low-water mark, which the back pressure already uses).
const drainPoll = 2 * time.Millisecond

// Flush sends every acknowledgement the Node still owes its peers, then
// waits until each live transport's DataChannel has no data left buffered
// (SCTP has handed it to the peer), or ctx ends. Call it before Close when
// the last messages and acks matter: a process that exits right after
// receiving a message would otherwise leave its sender waiting for an ack.
func (n *Node) Flush(ctx context.Context) error {
	n.mu.Lock()
	ps := make([]*peerState, 0, len(n.peers))
	for _, p := range n.peers {
		ps = append(ps, p)
	}
	n.mu.Unlock()
	for _, p := range ps {
		l := p.active()
		if l == nil || !l.isReady() {
			continue
		}
		p.mu.Lock()
		d := p.delivered
		owe := d > p.ackSent
		if owe {
			p.ackSent = d
		}
		p.mu.Unlock()
		if owe {
			if err := l.writeSealed(encodeAck(d), nil); err != nil {
				continue // the link is dying: the peer will resend on the next one
			}
		}
		if err := l.waitDrained(ctx); err != nil {
			return err
		}
	}
	return nil
}

// waitDrained returns once the DataChannel has nothing buffered, or the
// link dies, or ctx ends.
func (l *link) waitDrained(ctx context.Context) error {
	if l.relay {
		return l.n.waitSignalsSent(ctx, l.deadCh)
	}
	l.mu.Lock()
	dc := l.dc
	l.mu.Unlock()
	if dc == nil {
		return nil
	}
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for dc.BufferedAmount() > 0 {
		select {
		case <-t.C:
		case <-l.deadCh:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// waitSignalsSent returns once every queued signaling frame was handed to the Signaler, or dead
// is closed, or ctx ends.
func (n *Node) waitSignalsSent(ctx context.Context, dead <-chan struct{}) error {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for n.sig.pending() > 0 {
		select {
		case <-t.C:
		case <-dead:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
