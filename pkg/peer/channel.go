package peer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// ChannelLabelPrefix starts the label of every extra DataChannel (OpenChannel): the Node refuses
// a DataChannel whose label is neither DataChannelLabel nor starts with it.
const ChannelLabelPrefix = "vtpeer-"

// Limits of extra DataChannels.
const (
	// MaxChannelLabel bounds an extra DataChannel's label in bytes.
	MaxChannelLabel = 255
	// channelQueue is the number of received messages a Channel holds for its reader; beyond it
	// the DataChannel's read loop waits (the SCTP receive window then slows the sender).
	channelQueue = 32
	// channelAcceptWait is how long a DataChannel the peer opened waits for AcceptChannel.
	channelAcceptWait = 30 * time.Second
)

// Channel is an extra ordered, reliable DataChannel to a peer, opened beside the session's own
// DataChannel on the same PeerConnection, so that bulk data (a file) never holds up the
// session's messages. It is bound to the seal session of that PeerConnection: ExportKey derives
// keys only the two ends of that session know. Unlike the session it is not sealed by the Node,
// not resent and not continued on another transport: when the transport goes (ICE failed, the
// session moved), Done is closed and the user of the channel must seal what it sends and start
// again. It is safe for concurrent use (one reader, one writer at a time).
type Channel struct {
	peer  string
	label string
	l     *link
	dc    *webrtc.DataChannel

	msgs   chan []byte
	low    chan struct{}
	opened chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newChannel(l *link, dc *webrtc.DataChannel) *Channel {
	c := &Channel{peer: l.p.id, label: dc.Label(), l: l, dc: dc, msgs: make(chan []byte, channelQueue),
		low: make(chan struct{}, 1), opened: make(chan struct{}), done: make(chan struct{})}
	dc.SetBufferedAmountLowThreshold(lowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case c.low <- struct{}{}:
		default:
		}
	})
	var openOnce sync.Once
	dc.OnOpen(func() { openOnce.Do(func() { close(c.opened) }) })
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if m.IsString {
			return // the channel carries binary messages only
		}
		select {
		case c.msgs <- m.Data:
		case <-c.done:
		}
	})
	dc.OnClose(c.shut)
	return c
}

// Peer is the peer id at the other end.
func (c *Channel) Peer() string { return c.peer }

// Label is the DataChannel's label.
func (c *Channel) Label() string { return c.label }

// Done is closed when the channel is closed (by either end, or with its transport).
func (c *Channel) Done() <-chan struct{} { return c.done }

// MaxMessage is the largest message Send may take: the peer's SCTP max message size, bounded by
// Options.MaxMessageSize.
func (c *Channel) MaxMessage() int { return c.l.maxFrame() }

// ExportKey derives n bytes from the seal session of the channel's transport (seal.Session's
// ExportKey): both ends derive the same bytes.
func (c *Channel) ExportKey(label string, context []byte, n int) ([]byte, error) {
	c.l.mu.Lock()
	sess := c.l.sess
	c.l.mu.Unlock()
	if sess == nil {
		return nil, fmt.Errorf("export key: %w", ErrChannelClosed)
	}
	return sess.ExportKey(label, context, n)
}

// Send writes one binary message. It blocks, honouring ctx, while more than 1 MiB waits in the
// DataChannel's send buffer (back-pressure on its buffered amount).
func (c *Channel) Send(ctx context.Context, b []byte) error {
	if len(b) > c.MaxMessage() {
		return fmt.Errorf("channel send: %w: %d bytes, limit %d", ErrMessageTooBig, len(b), c.MaxMessage())
	}
	for c.dc.BufferedAmount() > highWater {
		select {
		case <-c.low:
		case <-c.done:
			return ErrChannelClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-c.done:
		return ErrChannelClosed
	default:
	}
	if err := c.dc.Send(b); err != nil {
		return fmt.Errorf("channel send: %w", err)
	}
	return nil
}

// Drain waits until the DataChannel's send buffer is empty (everything Send took went to the
// transport), the channel closes, or ctx ends.
func (c *Channel) Drain(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for c.dc.BufferedAmount() > 0 {
		select {
		case <-t.C:
		case <-c.done:
			return ErrChannelClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Recv returns the next message, or ErrChannelClosed once the channel is closed and every
// message received before was read.
func (c *Channel) Recv(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.msgs:
		return b, nil
	default:
	}
	select {
	case b := <-c.msgs:
		return b, nil
	case <-c.done:
		select {
		case b := <-c.msgs:
			return b, nil
		default:
		}
		return nil, ErrChannelClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Channel) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Close closes the DataChannel; the peer's end closes too.
func (c *Channel) Close() error {
	c.shut()
	return nil
}

func (c *Channel) shut() {
	c.once.Do(func() {
		close(c.done)
		// pion's Close may run our callbacks; not from inside one of them.
		if !c.l.n.goTracked(func() { _ = c.dc.Close() }) {
			_ = c.dc.Close()
		}
	})
}

// OpenChannel opens an extra ordered DataChannel labelled label (ChannelLabelPrefix + anything,
// at most MaxChannelLabel bytes) to peerID on the session's current PeerConnection and waits
// until it is open. The peer takes it with AcceptChannel. It fails with ErrNoChannel while the
// session runs over the server relay (or has no ready transport).
func (n *Node) OpenChannel(ctx context.Context, peerID, label string) (*Channel, error) {
	if err := checkChannelLabel(label); err != nil {
		return nil, err
	}
	l, err := n.channelLink(peerID)
	if err != nil {
		return nil, err
	}
	ordered := true
	dc, err := l.pc.CreateDataChannel(label, &webrtc.DataChannelInit{Ordered: &ordered})
	if err != nil {
		return nil, fmt.Errorf("open channel %s: %w", label, err)
	}
	c := newChannel(l, dc)
	l.trackChannel(c)
	select {
	case <-c.opened:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("open channel %s: %w", label, ErrChannelClosed)
	case <-ctx.Done():
		c.shut()
		return nil, fmt.Errorf("open channel %s: %w", label, ctx.Err())
	}
}

// AcceptChannel waits for the extra DataChannel labelled label that peerID opens (or opened in
// the last 30 s) with OpenChannel.
func (n *Node) AcceptChannel(ctx context.Context, peerID, label string) (*Channel, error) {
	if err := checkChannelLabel(label); err != nil {
		return nil, err
	}
	s := n.chans.slot(peerID, label)
	defer n.chans.release(peerID, label, s)
	select {
	case c := <-s:
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("accept channel %s: %w", label, ctx.Err())
	}
}

// channelLink is the peer's active PeerConnection transport.
func (n *Node) channelLink(peerID string) (*link, error) {
	n.mu.Lock()
	closed, p := n.closed, n.peers[peerID]
	n.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case p == nil:
		return nil, fmt.Errorf("open channel to %q: %w", peerID, ErrUnknownPeer)
	}
	p.mu.Lock()
	l := p.link
	ok := l != nil && l.ready && !l.relay && !l.isDead()
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("open channel to %s: %w", peerID, ErrNoChannel)
	}
	return l, nil
}

func checkChannelLabel(label string) error {
	if !strings.HasPrefix(label, ChannelLabelPrefix) || len(label) > MaxChannelLabel {
		return fmt.Errorf("%w: %q", ErrChannelLabel, label)
	}
	return nil
}

// onExtraChannel takes a DataChannel the peer opened beside the session's own: it is held for
// AcceptChannel once the link carries a seal session, refused otherwise.
func (l *link) onExtraChannel(dc *webrtc.DataChannel) {
	l.mu.Lock()
	sealed := l.sess != nil
	l.mu.Unlock()
	if !sealed || checkChannelLabel(dc.Label()) != nil {
		l.n.log.Warn("peer: refusing a DataChannel", "peer", l.p.id, "label", dc.Label(), "sealed", sealed)
		l.n.goTracked(func() { _ = dc.Close() })
		return
	}
	c := newChannel(l, dc)
	l.trackChannel(c)
	l.n.chans.offer(c)
}

// trackChannel closes c when its transport dies.
func (l *link) trackChannel(c *Channel) {
	if !l.n.goTracked(func() {
		select {
		case <-l.deadCh:
			c.shut()
		case <-c.done:
		}
	}) {
		c.shut()
	}
}

// chanRegistry hands DataChannels the peers opened to AcceptChannel callers.
type chanRegistry struct {
	mu    sync.Mutex
	slots map[string]chan *Channel // peer id + "\x00" + label → a one-slot hand-over
}

func newChanRegistry() *chanRegistry { return &chanRegistry{slots: map[string]chan *Channel{}} }

func (r *chanRegistry) slot(peerID, label string) chan *Channel {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.slotLocked(peerID, label)
}

func (r *chanRegistry) slotLocked(peerID, label string) chan *Channel {
	k := peerID + "\x00" + label
	s := r.slots[k]
	if s == nil {
		s = make(chan *Channel, 1)
		r.slots[k] = s
	}
	return s
}

// release forgets an empty slot.
func (r *chanRegistry) release(peerID, label string, s chan *Channel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := peerID + "\x00" + label
	if r.slots[k] == s && len(s) == 0 {
		delete(r.slots, k)
	}
}

// parked reports whether c still waits in s for AcceptChannel.
func (r *chanRegistry) parked(s chan *Channel, c *Channel) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case p := <-s:
		s <- p
		return p == c
	default:
		return false
	}
}

// offer parks c for AcceptChannel. A channel nobody takes within channelAcceptWait is closed. A
// channel the peer closed before AcceptChannel came stays parked for that time too: it still holds
// what was sent on it (a small file's only chunk may come and the channel close before the
// receiver asks for it). A second channel with the same label replaces a parked one that is
// closed (the peer opened it again) and is refused while the parked one is open.
func (r *chanRegistry) offer(c *Channel) {
	r.mu.Lock()
	s := r.slotLocked(c.peer, c.label)
	select {
	case s <- c:
	case old := <-s:
		if !old.isDone() {
			s <- old
			r.mu.Unlock()
			c.l.n.log.Warn("peer: refusing a DataChannel: one with its label waits to be accepted", "peer", c.peer, "label", c.label)
			c.shut()
			return
		}
		if n := len(old.msgs); n > 0 {
			c.l.n.log.Warn("peer: a closed DataChannel nobody accepted is replaced by a new one with its label; its unread messages are dropped",
				"peer", c.peer, "label", c.label, "messages", n)
		}
		s <- c
	}
	r.mu.Unlock()
	t := time.NewTimer(channelAcceptWait)
	c.l.n.goTracked(func() {
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.l.n.ctx.Done():
		case <-c.done:
			if !r.parked(s, c) {
				return // taken, or replaced
			}
			select { // closed before it was taken: it waits with what it holds
			case <-t.C:
			case <-c.l.n.ctx.Done():
			}
		}
		r.mu.Lock()
		select {
		case stale := <-s:
			if stale == c {
				if n := len(c.msgs); n > 0 {
					c.l.n.log.Warn("peer: a DataChannel the peer opened was not accepted in time; its unread messages are dropped",
						"peer", c.peer, "label", c.label, "messages", n, "wait", channelAcceptWait)
				}
				c.shut()
			} else {
				s <- stale
			}
		default:
		}
		if len(s) == 0 && r.slots[c.peer+"\x00"+c.label] == s {
			delete(r.slots, c.peer+"\x00"+c.label)
		}
		r.mu.Unlock()
	})
}
