package peer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// Test knobs (see testKnobs).
func withLoopback(o *Options) *Options { o.knobs.loopbackOnly = true; return o }

// withRelayFirst makes every PeerConnection but a direct upgrade use relay candidates only, as
// when the relay pair wins the race against a direct one (a real host candidate exists).
func withRelayFirst(o *Options)      { o.knobs.relayFirst = true }
func withoutZeroChecksum(o *Options) { o.knobs.noZeroCsum = true }

// sctpZeroChecksum is whether the current transport to peer sends and accepts SCTP packets
// without a CRC32c (RFC 9653, as negotiated); ok is false before its SCTP association is up.
func (n *Node) sctpZeroChecksum(peer string) (send, recv, ok bool) {
	n.mu.Lock()
	p := n.peers[peer]
	n.mu.Unlock()
	if p == nil {
		return false, false, false
	}
	l := p.current()
	if l == nil || l.pc == nil || l.pc.SCTP() == nil {
		return false, false, false
	}
	m, ok := l.pc.SCTP().Metadata()
	return m.ZeroChecksumSendingEnabled, m.ZeroChecksumReceivingEnabled, ok
}
func withVNet(o *Options, n transport.Net) *Options {
	o.knobs.vnet = n
	return o
}
func withFrameHook(o *Options, h func(from, to string, text bool, b []byte) [][]byte) *Options {
	o.knobs.frameHook = h
	return o
}
func withHandshakeTimers(o *Options, relayReady, backoff time.Duration) *Options {
	o.knobs.relayReady, o.knobs.hsBackoff = relayReady, backoff
	return o
}
func withRestartWait(o *Options, d time.Duration, ice [3]time.Duration) *Options {
	o.knobs.restartWait, o.knobs.iceTimeouts = d, ice
	return o
}

// closeTransport closes the current PeerConnection to peer, as a network failure would.
func (n *Node) closeTransport(peer string) bool {
	n.mu.Lock()
	p := n.peers[peer]
	n.mu.Unlock()
	if p == nil {
		return false
	}
	l := p.current()
	if l == nil {
		return false
	}
	return l.pc.Close() == nil
}

// relay is an in-memory signaling server: it delivers frames asynchronously, in order per
// destination, like the real server does. down() makes it refuse and drop everything.
type relay struct {
	t      testing.TB
	mu     sync.Mutex
	nodes  map[string]*Node
	q      map[string][]relayFrame
	kick   map[string]chan struct{}
	stops  map[string]chan struct{}
	isDown bool
	wg     sync.WaitGroup
	done   chan struct{}

	// filter, if set, sees every frame; drop discards it, hold keeps it for release.
	filter func(from, to, typ string, data json.RawMessage) (drop, hold bool)
	held   []heldFrame

	// intercept, if set, sees every frame before the filter, as a hostile server does: it may
	// readdress it (from, to), rewrite data or drop it (ok false).
	intercept func(from, to, typ string, data json.RawMessage) (nfrom, nto string, ndata json.RawMessage, ok bool)
}

func (r *relay) setIntercept(f func(from, to, typ string, data json.RawMessage) (string, string, json.RawMessage, bool)) {
	r.mu.Lock()
	r.intercept = f
	r.mu.Unlock()
}

// attach starts delivering frames to n as id without announcing it to anyone (a peer the server
// keeps hidden, such as an impostor it splices in).
func (r *relay) attach(id string, n *Node) {
	r.mu.Lock()
	r.nodes[id] = n
	k, stop := r.kick[id], r.stops[id]
	r.mu.Unlock()
	r.wg.Add(1)
	go r.pump(id, n, k, stop)
}

type heldFrame struct {
	to string
	f  relayFrame
}

// maxSignalFrame is the signaling server's frame limit (the envelope is counted generously).
const maxSignalFrame = 64 << 10

func (r *relay) setFilter(f func(from, to, typ string, data json.RawMessage) (drop, hold bool)) {
	r.mu.Lock()
	r.filter = f
	r.mu.Unlock()
}

// release delivers the held frames, in order, and stops holding.
func (r *relay) release() {
	r.mu.Lock()
	r.filter = nil
	held := r.held
	r.held = nil
	for _, h := range held {
		if k, ok := r.kick[h.to]; ok {
			r.q[h.to] = append(r.q[h.to], h.f)
			select {
			case k <- struct{}{}:
			default:
			}
		}
	}
	r.mu.Unlock()
}

type relayFrame struct {
	from, typ string
	data      json.RawMessage
}

var errRelayDown = errors.New("relay down")

func newRelay(t testing.TB) *relay {
	r := &relay{t: t, nodes: map[string]*Node{}, q: map[string][]relayFrame{}, kick: map[string]chan struct{}{}, stops: map[string]chan struct{}{}, done: make(chan struct{})}
	t.Cleanup(r.stop)
	return r
}

func (r *relay) stop() {
	select {
	case <-r.done:
	default:
		close(r.done)
	}
	r.wg.Wait()
}

func (r *relay) setDown(d bool) { r.mu.Lock(); r.isDown = d; r.mu.Unlock() }

type relaySignaler struct {
	r    *relay
	self string
}

func (s relaySignaler) Signal(_ context.Context, to, typ string, data json.RawMessage) error {
	return s.r.send(s.self, to, typ, data)
}

func (r *relay) send(from, to, typ string, data json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isDown {
		return errRelayDown
	}
	if r.intercept != nil {
		var ok bool
		if from, to, data, ok = r.intercept(from, to, typ, data); !ok {
			return nil
		}
	}
	k, ok := r.kick[to]
	if !ok {
		return errors.New("relay: no such peer " + to)
	}
	if !json.Valid(data) || len(data)+256 > maxSignalFrame {
		r.t.Errorf("relay: %s from %s: invalid JSON or %d bytes over the frame limit", typ, from, len(data))
		return errors.New("relay: bad frame")
	}
	f := relayFrame{from, typ, append(json.RawMessage(nil), data...)}
	if r.filter != nil {
		drop, hold := r.filter(from, to, typ, data)
		if hold {
			r.held = append(r.held, heldFrame{to, f})
		}
		if drop || hold {
			return nil
		}
	}
	r.q[to] = append(r.q[to], f)
	select {
	case k <- struct{}{}:
	default:
	}
	return nil
}

// register adds id (before its Node exists, so the Signaler can be built).
func (r *relay) signaler(id string) Signaler {
	r.mu.Lock()
	r.kick[id] = make(chan struct{}, 1)
	r.stops[id] = make(chan struct{})
	r.q[id] = nil
	r.mu.Unlock()
	return relaySignaler{r, id}
}

// join attaches n as id and tells it and the others, like the server's joined / peer-joined.
func (r *relay) join(id string, n *Node) {
	r.mu.Lock()
	var others []string
	for o := range r.nodes {
		others = append(others, o)
	}
	r.nodes[id] = n
	k, stop := r.kick[id], r.stops[id]
	nodes := make([]*Node, 0, len(others))
	for _, o := range others {
		nodes = append(nodes, r.nodes[o])
	}
	r.mu.Unlock()
	r.wg.Add(1)
	go r.pump(id, n, k, stop)
	for _, o := range nodes {
		o.PeerJoined(id)
	}
	n.Joined(context.Background(), id, others, nil)
}

// leave detaches id (its process quit) and tells the others, like the server's peer-left.
func (r *relay) leave(id string) {
	r.mu.Lock()
	close(r.stops[id])
	delete(r.nodes, id)
	delete(r.kick, id)
	var others []*Node
	for _, n := range r.nodes {
		others = append(others, n)
	}
	r.mu.Unlock()
	for _, n := range others {
		n.PeerLeft(id)
	}
}

func (r *relay) pump(id string, n *Node, k, stop chan struct{}) {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		batch := r.q[id]
		r.q[id] = nil
		r.mu.Unlock()
		for _, f := range batch {
			if err := n.HandleSignal(context.Background(), f.from, f.typ, f.data); err != nil && !errors.Is(err, ErrClosed) {
				r.t.Logf("relay: %s handle %s from %s: %v", id, f.typ, f.from, err)
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-k:
		case <-stop:
			return
		case <-r.done:
			return
		}
	}
}

// fakeIdentity signs with an HMAC under a test key; fakeVerify checks it. It stands in for the
// CLI's EIP-191 signer (pkg/peer must not import go-ethereum): sig = address(20) | mac(32) | pad(13).
type fakeIdentity struct{ addr string }

// fakeStaticIdentity also announces a static key.
type fakeStaticIdentity struct {
	fakeIdentity
	key []byte
}

func (f fakeStaticIdentity) StaticKey() []byte { return f.key }

var fakeKey = []byte("vtpeer peer test key")

func (f fakeIdentity) Address() string { return f.addr }
func (f fakeIdentity) SignHandshake(msg []byte) ([]byte, error) {
	a, err := hex.DecodeString(strings.TrimPrefix(f.addr, "0x"))
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, fakeKey)
	m.Write(a)
	m.Write(msg)
	sig := append(a, m.Sum(nil)...)
	return append(sig, make([]byte, 13)...), nil
}

func fakeVerify(msg, sig []byte) (string, error) {
	if len(sig) != 65 {
		return "", errors.New("bad signature length")
	}
	m := hmac.New(sha256.New, fakeKey)
	m.Write(sig[:20])
	m.Write(msg)
	if !hmac.Equal(m.Sum(nil), sig[20:52]) {
		return "", errors.New("bad signature")
	}
	return "0x" + hex.EncodeToString(sig[:20]), nil
}

// candidateStats lists the candidate types of the current PeerConnection to peer, local
// and remote, from pion's stats, and the selected pair's types.
func (n *Node) candidateStats(peer string) (local, remote []string, pairLocal, pairRemote string) {
	n.mu.Lock()
	p := n.peers[peer]
	n.mu.Unlock()
	if p == nil {
		return
	}
	l := p.current()
	if l == nil || l.pc == nil {
		return
	}
	for _, s := range l.pc.GetStats() {
		switch c := s.(type) {
		case webrtc.ICECandidateStats:
			if c.Type == webrtc.StatsTypeLocalCandidate {
				local = append(local, c.CandidateType.String())
			} else {
				remote = append(remote, c.CandidateType.String())
			}
		}
	}
	if sctp := l.pc.SCTP(); sctp != nil && sctp.Transport() != nil && sctp.Transport().ICETransport() != nil {
		if pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair(); err == nil && pair != nil {
			pairLocal, pairRemote = pair.Local.Typ.String(), pair.Remote.Typ.String()
		}
	}
	return
}

// activeGen is the generation of the transport data to peer goes over, 0 if none.
func (n *Node) activeGen(peer string) uint64 {
	n.mu.Lock()
	p := n.peers[peer]
	n.mu.Unlock()
	if p == nil {
		return 0
	}
	if l := p.active(); l != nil {
		return l.gen
	}
	return 0
}

// parkedChannel is the channel peerID opened with label that waits for AcceptChannel, or nil.
func (n *Node) parkedChannel(peerID, label string) *Channel {
	n.chans.mu.Lock()
	defer n.chans.mu.Unlock()
	s := n.chans.slots[peerID+"\x00"+label]
	if s == nil {
		return nil
	}
	select {
	case c := <-s:
		s <- c
		return c
	default:
		return nil
	}
}

// selectedLocalAddr is "ip:port" of the local candidate of the selected ICE pair of the current
// PeerConnection to peer, "" if none.
func (n *Node) selectedLocalAddr(peer string) string {
	n.mu.Lock()
	p := n.peers[peer]
	n.mu.Unlock()
	if p == nil {
		return ""
	}
	l := p.current()
	if l == nil || l.pc == nil || l.pc.SCTP() == nil || l.pc.SCTP().Transport() == nil {
		return ""
	}
	pair, err := l.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return ""
	}
	return net.JoinHostPort(pair.Local.Address, strconv.Itoa(int(pair.Local.Port)))
}
