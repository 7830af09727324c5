package peer

import "sync"

// Event is one of PeerConnected, PathChanged, Message, PeerLeft, Error, SASChanged,
// HandshakeFailed or Undelivered.
type Event interface{ isEvent() }

// PeerConnected is emitted when the sealed session with a peer is ready: both seal hellos were
// exchanged and each side received the other's start frame (which carries its identity, or none).
// It is emitted again after a transport was replaced (ICE restart failed, renegotiation): the new
// transport continued the session (it proved the continuity secret), so SAS and Address are the
// ones of the session the users compared.
type PeerConnected struct {
	Peer          string // signaling peer id
	SAS           string // short authentication string, equal on both sides
	Address       string // proven account address, "" when the peer is anonymous
	StaticKey     []byte // the peer's signed static X25519 key (with Address), or nil
	Path          string // PathDirect, PathTURN or PathServer
	CandidateType string // local candidate type of the selected pair: host, srflx, prflx, relay; "" on the server relay
}

// PathChanged is emitted when a live session moves to another transport without a gap (ViaAuto:
// from the server relay back to ICE, or from a TURN pair to a direct upgrade). Nothing is lost, duplicated or reordered across the move.
// The new transport ran its own seal handshake, which continued the session (it proved the
// continuity secret): SAS is the session's, unchanged (the identity, if any, was proven again).
type PathChanged struct {
	Peer string
	From string // PathDirect, PathTURN or PathServer
	To   string
	SAS  string
}

// Message is one application message, delivered exactly once and in order per peer.
type Message struct {
	Peer string
	Kind string
	Body []byte
}

// PeerLeft is emitted when a connected peer's transport is gone and could not be recovered
// (Reason "left": signaling said it left; "timeout": recovery gave up; "closed": aborted by us).
type PeerLeft struct {
	Peer   string
	Reason string
}

// Error reports a failure tied to a peer (Peer may be empty). Code is one of the Code* constants.
type Error struct {
	Peer string
	Code string
	Err  error
}

// SASChanged is emitted before the PeerConnected of a new session with a peer whose earlier
// session showed another SAS: the peer id's session was not continued (the peer restarted and
// signaling said it left, or the user called Retry), or another peer id proves an account that
// an earlier session proved with another SAS. The users must compare the new SAS.
type SASChanged struct {
	Peer    string
	Old     string
	New     string
	Address string // the account the new session proves, "" if anonymous
}

// HandshakeFailed is emitted when a handshake with a peer started (a seal hello was sent or
// received) but the peer's start frame was never verified on it: an aborted attempt, which is
// also what a man in the middle grinding for a matching SAS produces. Count is the number of such
// attempts in a row; the Node waits longer between attempts with the peer (1 s doubling), and
// after 5 (Capped) stops handshaking with it until Retry.
type HandshakeFailed struct {
	Peer   string
	Count  int
	Reason string
	Capped bool
}

// Undelivered reports messages sent to a peer that it never acknowledged.
//
// Reason UndeliveredLeft: the peer is gone (PeerLeft); they stay queued for its return (Dropped
// false), but may never arrive. Reason UndeliveredSASChanged: a new session with the peer id began
// (SASChanged precedes it) that is anonymous and did not continue the earlier one, so nothing
// proves that it is the same party: the messages are not resent to it but dropped (Dropped true);
// the users compare the new SAS and send them again. A new session that proves the account the
// earlier one proved inherits them instead (no event).
type Undelivered struct {
	Peer    string
	Count   int
	Reason  string // UndeliveredLeft or UndeliveredSASChanged
	Dropped bool   // removed from the outbox: they will not be resent
}

// Undelivered reasons.
const (
	// UndeliveredLeft: the peer left with messages unacknowledged; they stay queued.
	UndeliveredLeft = "left"
	// UndeliveredSASChanged: an anonymous new session replaced the verified one; the earlier
	// session's unacknowledged messages were dropped, not resent to it.
	UndeliveredSASChanged = "sas_changed"
)

func (PeerConnected) isEvent()   {}
func (SASChanged) isEvent()      {}
func (HandshakeFailed) isEvent() {}
func (Undelivered) isEvent()     {}
func (PathChanged) isEvent()     {}
func (Message) isEvent()         {}
func (PeerLeft) isEvent()        {}
func (Error) isEvent()           {}

// eventQueue moves events from pion callbacks to the Events channel without ever blocking the
// producer: it buffers up to limit events in memory and reports ErrEventOverflow beyond that.
type eventQueue struct {
	mu       sync.Mutex
	buf      []Event
	limit    int
	overflow bool
	closed   bool // out is closed: drop events
	idle     bool // run has delivered everything and waits: push may hand over directly
	kick     chan struct{}
	out      chan Event
	done     chan struct{}
}

func newEventQueue(limit int) *eventQueue {
	return &eventQueue{limit: limit, kick: make(chan struct{}, 1), out: make(chan Event, 64), done: make(chan struct{})}
}

// push never blocks.
func (q *eventQueue) push(e Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if q.idle && len(q.buf) == 0 {
		select { // fast path, in order: nothing is queued or in flight
		case q.out <- e:
			q.mu.Unlock()
			return
		default:
		}
	}
	switch {
	case len(q.buf) < q.limit:
		q.buf = append(q.buf, e)
	case !q.overflow:
		q.overflow = true
		q.buf = append(q.buf, Error{Code: CodeOverflow, Err: ErrEventOverflow})
	}
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// run delivers events until done is closed, then closes out.
func (q *eventQueue) run() {
	defer func() {
		q.mu.Lock()
		q.closed = true
		close(q.out)
		q.mu.Unlock()
	}()
	for {
		q.mu.Lock()
		batch := q.buf
		q.buf = nil
		q.overflow = false
		q.idle = len(batch) == 0
		q.mu.Unlock()
		for _, e := range batch {
			select {
			case q.out <- e:
			case <-q.done:
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-q.kick:
		case <-q.done:
			return
		}
		q.mu.Lock()
		q.idle = false
		q.mu.Unlock()
	}
}
