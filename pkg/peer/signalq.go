package peer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Signaling frame types this package sends and understands.
const (
	SignalOffer   = "offer"
	SignalAnswer  = "answer"
	SignalICE     = "ice"
	SignalRestart = "restart" // the answerer asks the offerer to renegotiate a dead transport
)

// sigPayload is the data of every signaling frame. Gen identifies the transport (PeerConnection)
// the frame belongs to, so that late candidates of a replaced transport are ignored.
type sigPayload struct {
	Gen       uint64                   `json:"gen"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	// Upgrade (offers only) asks for a direct-only PeerConnection beside the live one, which
	// stays in use until the new one is ready (upgrade.go).
	Upgrade bool `json:"upgrade,omitempty"`
}

type outSignal struct {
	to, typ string
	data    json.RawMessage
	onErr   func(error) // called (from the queue's goroutine) if the Signaler fails; may be nil
}

// signalQueue sends signaling frames in order from one goroutine, so pion callbacks never block
// on the network.
type signalQueue struct {
	n    *Node
	mu   sync.Mutex
	q    []outSignal
	busy int // frames taken from q and not yet handed to the Signaler
	kick chan struct{}
}

func newSignalQueue(n *Node) *signalQueue {
	return &signalQueue{n: n, kick: make(chan struct{}, 1)}
}

func (s *signalQueue) push(to, typ string, p sigPayload) {
	data, err := json.Marshal(p)
	if err != nil {
		return
	}
	s.pushRaw(to, typ, data, nil)
}

// pushRaw queues one frame with ready-made data.
func (s *signalQueue) pushRaw(to, typ string, data json.RawMessage, onErr func(error)) {
	s.mu.Lock()
	s.q = append(s.q, outSignal{to, typ, data, onErr})
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// pending is the number of frames not yet handed to the Signaler.
func (s *signalQueue) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.q) + s.busy
}

func (s *signalQueue) run(ctx context.Context) {
	for {
		s.mu.Lock()
		batch := s.q
		s.q = nil
		s.busy = len(batch)
		s.mu.Unlock()
		for _, m := range batch {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := s.n.opts.Signaler.Signal(cctx, m.to, m.typ, m.data)
			cancel()
			if err != nil && ctx.Err() == nil {
				s.n.log.Debug("peer: signal failed", "to", m.to, "type", m.typ, "err", err)
				if m.onErr != nil {
					m.onErr(err)
				}
			}
			s.mu.Lock()
			s.busy--
			s.mu.Unlock()
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-s.kick:
		case <-ctx.Done():
			return
		}
	}
}

// HandleSignal processes one signaling frame relayed from peer `from`. A frame it cannot use
// returns an error saying why: ErrBadSignal or ErrBadRelay for a malformed one (the caller
// should report it), ErrIgnoredSignal for a well-formed one the protocol says to ignore (an
// unknown type, which newer peers may add; a late frame of a replaced transport; the losing
// offer of a glare; a path our Via refuses).
func (n *Node) HandleSignal(ctx context.Context, from, typ string, data json.RawMessage) error {
	switch typ {
	case SignalOffer, SignalAnswer, SignalICE, SignalRestart:
	case SignalRelay:
		return n.handleRelaySignal(from, data)
	default:
		return fmt.Errorf("%w: unknown type %q from %s", ErrIgnoredSignal, typ, from)
	}
	p, err := decodeSigPayload(typ, data)
	if err != nil {
		return fmt.Errorf("%w: %s from %s: %v", ErrBadSignal, typ, from, err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	ps := n.peerLocked(from)
	n.mu.Unlock()
	switch typ {
	case SignalOffer:
		return ps.handleOffer(p)
	case SignalAnswer:
		return ps.handleAnswer(p)
	case SignalICE:
		return ps.handleICE(p)
	default:
		return ps.handleRestart(p)
	}
}

func (n *Node) handleRelaySignal(from string, data json.RawMessage) error {
	d, err := decodeRelayData(data)
	if err != nil {
		return fmt.Errorf("%w: relay from %s: %w", ErrBadSignal, from, err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	ps := n.peerLocked(from)
	n.mu.Unlock()
	return ps.handleRelay(d)
}
