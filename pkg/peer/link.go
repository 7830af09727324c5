package peer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// DataChannelLabel is the label of the one DataChannel between two peers.
const DataChannelLabel = "verytippers-data"

// Back-pressure watermarks on the DataChannel's buffered amount.
const (
	highWater = 1 << 20
	lowWater  = 512 << 10
)

var (
	errDCClosed   = errors.New("datachannel closed")
	errPCFailed   = errors.New("peer connection failed")
	errICERecover = errors.New("ice restart did not recover in time")
	errPeerLeft   = errors.New("peer left the signaling room")

	errUpgradeFailed = errors.New("direct upgrade did not connect in time")
)

// link is one transport to a peer: a PeerConnection with its DataChannel (or, with relay set, the
// signaling server relay) and the seal session that runs over it. A link never comes back once
// dead; the peerState replaces it.
type link struct {
	n       *Node
	p       *peerState
	gen     uint64
	offerer bool
	relay   bool                   // server relay: no pc, no dc
	upgrade bool                   // a direct-only attempt beside a live TURN transport (upgrade.go)
	pc      *webrtc.PeerConnection // nil on the relay
	created time.Time

	lowCh   chan struct{} // buffered amount fell below lowWater (cap 1)
	deadCh  chan struct{}
	dieOnce sync.Once

	mu          sync.Mutex // guards the fields below
	dc          *webrtc.DataChannel
	remoteSet   bool
	pendingICE  []webrtc.ICECandidateInit
	hs          *seal.Handshake
	sess        *seal.Session
	hsErr       error
	startSeen   bool
	hsStarted   bool // a handshake message went out or came in
	verified    bool // the peer's start frame was verified
	abandoned   bool // dropped by Retry before it was ready: not a failed handshake
	confirmed   bool // a frame after the peer's start frame opened (onBinary's goroutine only)
	ready       bool // set by peerState under p.mu as well
	everReady   bool
	localDirect bool        // we gathered a candidate that is not a TURN relay
	restartTmr  *time.Timer // ICE restart bound, the relay handshake deadline, or the upgrade deadline

	// A new anonymous session: outbox items below this seq are dropped once it is verified
	// (continuity.go). Guarded by mu.
	dropBelow uint64

	// relay only
	peerClosed    bool // the peer sent close: do not send one back
	inflight      []inflightMsg
	inflightBytes int
	progress      time.Time // last ack progress, or when the window became non-empty

	sendMu sync.Mutex // orders Seal + Send

	// Data that arrives before this link's PeerConnected (or PathChanged) event is out waits in
	// early, so that no Message is ever seen before its peer is connected.
	deliverMu  sync.Mutex
	delivering bool       // guarded by deliverMu
	early      []appFrame // guarded by deliverMu
}

// newLink creates a PeerConnection transport. An upgrade link is direct-only: no TURN servers,
// and remote relay candidates are dropped, whatever Via says.
func newLink(p *peerState, gen uint64, offerer, upgrade bool) (*link, error) {
	n := p.n
	via := n.opts.Via
	if upgrade {
		via = ViaDirect
	}
	cfg := webrtc.Configuration{
		ICEServers:   toWebRTC(iceServersFor(via, n.iceServers())),
		Certificates: []webrtc.Certificate{n.stack.cert},
	}
	relayFirst := n.opts.knobs.relayFirst && !upgrade // test: as if the relay pair won the race
	if via == ViaTURN || relayFirst {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := n.stack.api.NewPeerConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	n.metrics.attempts.WithLabelValues("webrtc").Inc()
	l := &link{n: n, p: p, gen: gen, offerer: offerer, upgrade: upgrade, pc: pc, created: time.Now(),
		lowCh: make(chan struct{}, 1), deadCh: make(chan struct{}), localDirect: relayFirst}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil || l.isDead() {
			return
		}
		if c.Typ != webrtc.ICECandidateTypeRelay {
			l.mu.Lock()
			l.localDirect = true
			l.mu.Unlock()
		}
		init := c.ToJSON()
		n.sig.push(p.id, SignalICE, sigPayload{Gen: gen, Candidate: &init})
	})
	pc.OnICEConnectionStateChange(l.onICEState)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			l.close(errPCFailed)
		}
	})
	if offerer {
		ordered := true
		dc, err := pc.CreateDataChannel(DataChannelLabel, &webrtc.DataChannelInit{Ordered: &ordered})
		if err != nil {
			_ = pc.Close()
			return nil, fmt.Errorf("create datachannel: %w", err)
		}
		l.setupDC(dc)
	}
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		switch {
		case dc.Label() == DataChannelLabel && !offerer:
			l.setupDC(dc)
		case strings.HasPrefix(dc.Label(), ChannelLabelPrefix):
			l.onExtraChannel(dc) // channel.go
		default:
			n.log.Warn("peer: refusing a DataChannel with an unknown label", "peer", p.id, "label", dc.Label())
			_ = dc.Close()
		}
	})
	return l, nil
}

func (l *link) setupDC(dc *webrtc.DataChannel) {
	l.mu.Lock()
	if l.dc != nil {
		l.mu.Unlock()
		return
	}
	l.dc = dc
	l.mu.Unlock()
	dc.SetBufferedAmountLowThreshold(lowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case l.lowCh <- struct{}{}:
		default:
		}
	})
	dc.OnOpen(l.onOpen)
	dc.OnMessage(l.onMessage)
	dc.OnClose(func() { l.close(errDCClosed) })
}

func (l *link) isDead() bool {
	select {
	case <-l.deadCh:
		return true
	default:
		return false
	}
}

func (l *link) isReady() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ready
}

// close tears the link down once; err (nil for a deliberate close) is passed to the peer.
func (l *link) close(err error) {
	l.dieOnce.Do(func() {
		close(l.deadCh)
		l.mu.Lock()
		if l.restartTmr != nil {
			l.restartTmr.Stop()
		}
		l.mu.Unlock()
		// pion's Close waits for its goroutines and may call our callbacks: not under our locks.
		// It can run from inside a pion callback, so do it on a tracked goroutine.
		if l.relay {
			l.sendRelayClose()
		} else if !l.n.goTracked(func() { _ = l.pc.Close() }) {
			_ = l.pc.Close()
		}
		l.mu.Lock()
		ever := l.everReady
		l.mu.Unlock()
		if !ever && !l.upgrade { // a direct upgrade that did not work is no failed connection
			l.n.metrics.connections.WithLabelValues("failed").Inc()
		}
		l.p.onLinkDead(l, err)
	})
}

// setRemote applies a remote description and the candidates that arrived before it.
func (l *link) setRemote(d webrtc.SessionDescription) error {
	if err := l.pc.SetRemoteDescription(d); err != nil {
		return fmt.Errorf("set remote %s: %w", d.Type, err)
	}
	l.mu.Lock()
	l.remoteSet = true
	pend := l.pendingICE
	l.pendingICE = nil
	l.mu.Unlock()
	for _, c := range pend {
		if err := l.pc.AddICECandidate(c); err != nil {
			l.n.log.Debug("peer: add buffered candidate", "peer", l.p.id, "err", err)
		}
	}
	return nil
}

func (l *link) addCandidate(c webrtc.ICECandidateInit) error {
	if (l.n.opts.Via == ViaDirect || l.upgrade) && isRelayCandidate(c) {
		return nil // direct: never pair with a TURN relay
	}
	l.mu.Lock()
	if !l.remoteSet {
		l.pendingICE = append(l.pendingICE, c)
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	return l.pc.AddICECandidate(c)
}

// offer creates and signals an offer (an ICE restart when restart is set).
func (l *link) offer(restart bool) error {
	var opts *webrtc.OfferOptions
	if restart {
		opts = &webrtc.OfferOptions{ICERestart: true}
	}
	o, err := l.pc.CreateOffer(opts)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := l.pc.SetLocalDescription(o); err != nil {
		return fmt.Errorf("set local offer: %w", err)
	}
	l.n.sig.push(l.p.id, SignalOffer, sigPayload{Gen: l.gen, SDP: o.SDP, Upgrade: l.upgrade && !restart})
	return nil
}

// answer applies a remote offer and signals our answer.
func (l *link) answer(sdp string) error {
	if err := l.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return err
	}
	a, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := l.pc.SetLocalDescription(a); err != nil {
		return fmt.Errorf("set local answer: %w", err)
	}
	l.n.sig.push(l.p.id, SignalAnswer, sigPayload{Gen: l.gen, SDP: a.SDP})
	return nil
}

// onICEState drives ICE restart: on disconnected/failed the offerer restarts ICE; either side
// gives the restart restartWait to recover before tearing the link down (the peer then
// renegotiates a new PeerConnection).
func (l *link) onICEState(s webrtc.ICEConnectionState) {
	l.n.log.Debug("peer: ice state", "peer", l.p.id, "gen", l.gen, "state", s.String())
	if l.isDead() {
		return
	}
	switch s {
	case webrtc.ICEConnectionStateDisconnected, webrtc.ICEConnectionStateFailed:
		l.mu.Lock()
		if l.upgrade && !l.everReady {
			// An upgrade attempt that loses its pair is not worth a restart: the session runs on.
			l.mu.Unlock()
			l.close(errUpgradeFailed)
			return
		}
		if l.restartTmr == nil {
			l.restartTmr = time.AfterFunc(l.n.opts.knobs.restartWait, func() { l.close(errICERecover) })
		}
		l.mu.Unlock()
		if l.offerer {
			l.n.goTracked(func() {
				if err := l.offer(true); err != nil {
					l.n.log.Debug("peer: ice restart", "peer", l.p.id, "err", err)
				}
			})
		}
	case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
		l.mu.Lock()
		if l.restartTmr != nil && (!l.upgrade || l.everReady) { // an upgrade's deadline runs on
			l.restartTmr.Stop()
			l.restartTmr = nil
		}
		l.mu.Unlock()
	}
}

// remoteFingerprint is the SHA-256 of the DER certificate the DTLS transport really saw.
func (l *link) remoteFingerprint() ([]byte, error) {
	sctp := l.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil {
		return nil, errors.New("no dtls transport")
	}
	der := sctp.Transport().GetRemoteCertificate()
	if len(der) == 0 {
		return nil, errors.New("no remote certificate")
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}

// path reports "direct"/"turn"/"server" and the local candidate type of the selected pair.
func (l *link) path() (path, ctype string) {
	if l.relay {
		return PathServer, ""
	}
	path, ctype = PathDirect, ""
	sctp := l.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return
	}
	ctype = pair.Local.Typ.String()
	if pair.Local.Typ == webrtc.ICECandidateTypeRelay || pair.Remote.Typ == webrtc.ICECandidateTypeRelay {
		path = PathTURN
	}
	return
}

// maxFrame is the largest DataChannel message we may send to this peer.
func (l *link) maxFrame() int {
	m := l.n.opts.MaxMessageSize
	if l.relay {
		return min(m, RelayMaxFrame)
	}
	if sctp := l.pc.SCTP(); sctp != nil {
		if r := int(sctp.GetCapabilities().MaxMessageSize); r > 0 && r < m {
			m = r
		}
	}
	return m
}

// waitWritable blocks while the DataChannel holds more than highWater bytes.
func (l *link) waitWritable(ctx context.Context) error {
	if l.relay {
		return l.waitRelayWindow(ctx)
	}
	l.mu.Lock()
	dc := l.dc
	l.mu.Unlock()
	if dc == nil {
		return errDCClosed
	}
	for dc.BufferedAmount() > highWater {
		select {
		case <-l.lowCh:
		case <-l.deadCh:
			return errDCClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// writeWire sends one DataChannel message (or relay frame), through the test frame hook if any.
func (l *link) writeWire(text bool, b []byte) error {
	l.mu.Lock()
	dc := l.dc
	l.mu.Unlock()
	if dc == nil && !l.relay {
		return errDCClosed
	}
	outs := [][]byte{b}
	if h := l.n.opts.knobs.frameHook; h != nil {
		outs = h(l.n.selfIDSafe(), l.p.id, text, b)
	}
	for _, o := range outs {
		var err error
		switch {
		case l.relay && text:
			err = l.writeRelay(relayHello, o)
		case l.relay:
			err = l.writeRelay(relaySealed, o)
		case text:
			err = dc.SendText(string(o))
		default:
			err = dc.Send(o)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeSealed seals one application frame and sends it. prepare, if set, runs just before
// sealing, under the link's send lock (it fills in the piggybacked ack).
func (l *link) writeSealed(pt []byte, prepare func()) error {
	l.mu.Lock()
	dc, sess := l.dc, l.sess
	l.mu.Unlock()
	if (dc == nil && !l.relay) || sess == nil {
		return errDCClosed
	}
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	if prepare != nil {
		prepare()
	}
	frame, err := sess.Seal(pt)
	if err != nil {
		return err
	}
	return l.writeWire(false, frame)
}

func (n *Node) selfIDSafe() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.selfID
}

// iceServersFor applies the Via policy to the ICE servers: ViaDirect drops TURN servers.
func iceServersFor(via string, servers []ICEServer) []ICEServer {
	if via != ViaDirect {
		return servers
	}
	out := make([]ICEServer, 0, len(servers))
	for _, s := range servers {
		var urls []string
		for _, u := range s.URLs {
			if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				urls = append(urls, u)
			}
		}
		if len(urls) > 0 {
			out = append(out, ICEServer{URLs: urls})
		}
	}
	return out
}

// isRelayCandidate reports whether a trickled candidate is of type relay (RFC 8839 syntax).
func isRelayCandidate(c webrtc.ICECandidateInit) bool {
	f := strings.Fields(c.Candidate)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "typ" {
			return f[i+1] == "relay"
		}
	}
	return false
}

// sealed reports whether the seal handshake finished on this link: the peer, whose side
// finished first or just after, sends its start frame next, so the link is about to be ready.
func (l *link) sealed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess != nil
}
