package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/verytippers/vtpeer/pkg/app"
	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/seal"
	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// roomConfig says how a membership reaches its room.
type roomConfig struct {
	server       string           // signaling server URL (ws:// or wss://)
	room         string           // room name
	token        string           // signaling JWT, if the server needs one
	signer       tips.Signer      // account proven to peers; nil = anonymous
	expect       string           // abort sessions whose peer does not prove this address
	iceServers   []peer.ICEServer // --stun / --turn, added to the server's
	loopbackOnly bool             // ICE on loopback addresses only
	via          string           // peer.Via*
	p2pTimeout   time.Duration    // with via auto: ICE's head start over the server relay
	turnWait     time.Duration    // with via auto: peer.Options.TURNWait (0: none)
	connect      time.Duration    // bound on each connection attempt to the server (0: signal's default)
	retryDial    bool             // retry the first connection with backoff until ctx ends
	registry     prometheus.Registerer
	logger       *slog.Logger       // never nil
	status       func(statusUpdate) // signaling status callback; never nil

	// Offline mail (optional).
	staticKey []byte       // our static X25519 key, announced in the signed identity
	mailbox   string       // our mailbox id: the server hands over its mail on join
	onMail    func([]byte) // a sealed mail blob for us
	onMailed  func()       // the server stored one of our deposits
}

// statusUpdate is news from the signaling side that the user should see.
type statusUpdate struct {
	kind    string // "joined", "reconnecting", "dial-failed", "rejoined", "error" (from the server), "refused" (a peer's frame)
	peerID  string
	peers   []string
	code    string
	err     error
	attempt int           // dial-failed: the failed attempt's number
	retryIn time.Duration // dial-failed: the wait before the next one
}

// membership is one membership in a room: a signaling client and a peer
// Node wired together. The signaling loop feeds the Node; an app.Room reads
// the Node's events.
type membership struct {
	cfg    roomConfig
	client *signal.Client
	node   *peer.Node
	self   string
	peers  []string // members present when we joined

	cancel context.CancelFunc
	wg     sync.WaitGroup

	refusedEvery *rate.Limiter // reports of unusable signaling frames: a flood cannot flood the output
}

// startRoom dials the server, joins the room and starts the Node.
func startRoom(ctx context.Context, cfg roomConfig) (*membership, error) {
	id, err := randomPeerID()
	if err != nil {
		return nil, err
	}
	client, err := signal.Dial(ctx, cfg.server, &signal.ClientOptions{Token: cfg.token, PeerID: id, Mailbox: cfg.mailbox, Logger: cfg.logger,
		HandshakeTimeout: cfg.connect, Retry: cfg.retryDial,
		OnDialFailure: func(f signal.DialFailure) {
			cfg.status(statusUpdate{kind: "dial-failed", err: f.Err, attempt: f.Attempt, retryIn: f.Retry})
		}})
	if err != nil {
		return nil, fmt.Errorf("%w (is `vtpeer serve` running at %s?)", err, cfg.server)
	}
	s := &membership{cfg: cfg, client: client, refusedEvery: rate.NewLimiter(rate.Every(time.Second), 10)}
	opts := &peer.Options{
		Room:           cfg.room,
		Signaler:       signaler{client},
		ICEServers:     cfg.iceServers,
		ExpectAddress:  cfg.expect,
		VerifyIdentity: app.VerifyIdentity,
		LoopbackOnly:   cfg.loopbackOnly,
		Via:            cfg.via,
		P2PTimeout:     cfg.p2pTimeout,
		TURNWait:       cfg.turnWait,
		Registry:       cfg.registry,
		Logger:         cfg.logger,
	}
	if cfg.signer != nil {
		opts.Identity = app.Identity(cfg.signer, cfg.staticKey)
	}
	node, err := peer.New(opts)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	s.node = node
	joined, err := client.Join(ctx, cfg.room)
	if err != nil {
		_ = node.Close()
		_ = client.Close()
		var se *signal.ServerError
		if errors.As(err, &se) && se.Code == signal.CodeUnauthorized {
			if cfg.token == "" {
				return nil, fmt.Errorf("join room %q: the server requires a token: pass --token or set VTPEER_TOKEN (`vtpeer token` mints one)", cfg.room)
			}
			return nil, fmt.Errorf("join room %q: the server refused the token: %s (it may have expired, be for another room or audience, or be signed with another key; `vtpeer token` mints a new one)", cfg.room, se.Message)
		}
		if errors.As(err, &se) {
			return nil, fmt.Errorf("join room %q: refused by the server: %s (%s)", cfg.room, se.Message, se.Code)
		}
		return nil, fmt.Errorf("join room %q: %w", cfg.room, err)
	}
	if cfg.via == peer.ViaTURN && !hasTURN(s.iceFor(joined.ICEServers)) {
		_ = node.Close()
		_ = client.Close()
		return nil, errors.New("--via turn: the server hands out no TURN server (run it with --turn) and none was given with --turn")
	}
	s.self, s.peers = joined.PeerID, joined.Peers
	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.node.Joined(loopCtx, joined.PeerID, joined.Peers, s.iceFor(joined.ICEServers))
	cfg.status(statusUpdate{kind: "joined", peerID: joined.PeerID, peers: joined.Peers})
	s.wg.Add(1)
	go s.signalLoop(loopCtx)
	return s, nil
}

// iceFor merges the server's ICE servers with the user's own.
func (s *membership) iceFor(fromServer []signal.ICEServer) []peer.ICEServer {
	out := make([]peer.ICEServer, 0, len(fromServer)+len(s.cfg.iceServers))
	for _, is := range fromServer {
		out = append(out, peer.ICEServer{URLs: is.URLs, Username: is.Username, Credential: is.Credential})
	}
	return append(out, s.cfg.iceServers...)
}

// hasTURN reports whether any of servers is a TURN server.
func hasTURN(servers []peer.ICEServer) bool {
	for _, s := range servers {
		for _, u := range s.URLs {
			if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
				return true
			}
		}
	}
	return false
}

// signalLoop hands every signaling frame to the Node until the session ends.
func (s *membership) signalLoop(ctx context.Context) {
	defer s.wg.Done()
	for {
		f, err := s.client.Recv(ctx)
		if err != nil {
			return // closed or cancelled: Close is under way
		}
		s.handleFrame(ctx, f)
	}
}

func (s *membership) handleFrame(ctx context.Context, f signal.Frame) {
	switch f.Type {
	case signal.TypeJoined:
		s.node.Joined(ctx, f.PeerID, f.Peers, s.iceFor(f.ICEServers))
		s.cfg.status(statusUpdate{kind: "rejoined", peerID: f.PeerID, peers: f.Peers})
	case signal.TypeReconnecting:
		s.cfg.status(statusUpdate{kind: "reconnecting", err: errors.New(f.Error)})
	case signal.TypePeerJoined:
		s.node.PeerJoined(f.PeerID)
	case signal.TypePeerLeft:
		s.node.PeerLeft(f.PeerID)
	case signal.TypeMail:
		var blob []byte
		if err := json.Unmarshal(f.Data, &blob); err != nil || s.cfg.onMail == nil {
			s.cfg.logger.Debug("undecodable mail frame", "err", err)
			return
		}
		s.cfg.onMail(blob)
	case signal.TypeMailed:
		if s.cfg.onMailed != nil {
			s.cfg.onMailed()
		}
	case signal.TypeError:
		if f.Code == signal.CodeUnknownPeer {
			// A renegotiation aimed at a peer that has left: the Node learns it from peer-left.
			s.cfg.logger.Debug("signaling to a peer that is gone", "err", f.Error)
			return
		}
		s.cfg.status(statusUpdate{kind: "error", code: f.Code, err: errors.New(f.Error)})
	default:
		if f.From == "" {
			s.cfg.logger.Debug("signaling frame ignored: not from a peer", "type", f.Type)
			return
		}
		err := s.node.HandleSignal(ctx, f.From, f.Type, f.Data)
		switch {
		case err == nil, errors.Is(err, peer.ErrClosed):
		case errors.Is(err, peer.ErrIgnoredSignal):
			// late frames of a replaced transport, glare, a path we refuse: part of the protocol
			s.cfg.logger.Debug("signaling frame ignored", "from", f.From, "type", f.Type, "reason", err)
		default:
			if s.refusedEvery.Allow() {
				s.cfg.logger.Warn("signaling frame refused", "from", f.From, "type", f.Type, "reason", err)
				s.cfg.status(statusUpdate{kind: "refused", peerID: f.From, code: "bad_signal", err: err})
			}
		}
	}
}

// Close leaves the room and stops everything the session started.
func (s *membership) Close() error {
	s.cancel()
	errNode := s.node.Close()
	errClient := s.client.Close()
	s.wg.Wait()
	return errors.Join(errNode, errClient)
}

// Mail deposits a sealed blob in the server's mailbox of the static key's
// owner; the server answers with a mailed frame (or an error frame). It
// makes the membership an app.Mailer.
func (s *membership) Mail(ctx context.Context, recipientKey, blob []byte) error {
	data, err := json.Marshal(blob) // base64 in a JSON string
	if err != nil {
		return err
	}
	return s.client.Send(ctx, signal.Frame{Type: signal.TypeMail, To: seal.MailboxID(recipientKey), Data: data})
}

// randomPeerID makes the id this process asks the server for, so that it
// keeps its identity in the room across reconnects and server restarts.
func randomPeerID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("peer id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// signaler adapts signal.Client to peer.Signaler.
type signaler struct{ c *signal.Client }

// Signal sends one directed signaling frame.
func (s signaler) Signal(ctx context.Context, to, typ string, data json.RawMessage) error {
	return s.c.Send(ctx, signal.Frame{Type: typ, To: to, Data: data})
}
