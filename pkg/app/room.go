package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"

	"github.com/verytippers/vtpeer/internal/boltutil"
	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// Room is this user's application in one room: it speaks the message kinds
// (chat, tips, receipts, and offline delivery through the postbox and the
// server's mailbox) over a Node's sealed sessions. It is the only reader of
// the Node's events and reports what happened as Events.
//
// Build it with New, optionally QueueChat, then Start; read Events until it
// is closed (the Node stopped, or Close). Its methods are safe for
// concurrent use.
type Room struct {
	o      Options
	log    *slog.Logger
	events chan Event

	ctx     context.Context // cancelled by Close; for the Room's own goroutines
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started atomic.Bool

	// Owned by the run loop once started.
	to          string          // QueueChat's addressee
	waiting     map[string]bool // ids of QueueChat messages not yet acknowledged
	waitingN    atomic.Int64    // len(waiting), for Waiting
	present     map[string]bool // members present at join not yet connected or failed
	deposited   bool
	mailPending int             // deposits the server has not confirmed yet
	mailTotal   int             // deposits made
	receipts    map[string]bool // tips whose receipt was reported
	delivered   chan deliveredBatch

	// File transfer (filesend.go, filerecv.go).
	rec     recordStore
	mu      sync.Mutex // guards the fields below
	in      map[string]*incoming
	out     map[string]*outgoing
	placed  map[string]placedXfer // transfers received in full lately (filerecv.go)
	recDB   *bolt.DB              // the record's own file (FileOptions.RecordDir), closed by Close
	peersCh chan struct{}         // closed and replaced at each peer event

	emitMu   sync.RWMutex // emit holds it shared; closing events holds it
	evClosed bool
}

// New builds a Room over opts.Node. Nothing is read or sent until Start.
func New(opts *Options) (*Room, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := *opts
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Room{o: o, log: o.Logger, events: make(chan Event, 64), ctx: ctx, cancel: cancel,
		waiting: map[string]bool{}, present: map[string]bool{}, receipts: map[string]bool{},
		delivered: make(chan deliveredBatch, 16),
		rec:       &memRecord{}, in: map[string]*incoming{}, out: map[string]*outgoing{}, placed: map[string]placedXfer{}, peersCh: make(chan struct{})}
	if o.Postbox != nil {
		r.rec = boltRecord{o.Postbox.db}
	}
	if o.Files != nil {
		fo := *o.Files
		if fo.MaxFileSize <= 0 {
			fo.MaxFileSize = DefaultMaxFileSize
		}
		r.o.Files = &fo
		if o.Postbox == nil && fo.RecordDir != "" {
			db, err := openRecordFile(fo.RecordDir)
			switch {
			case errors.Is(err, boltutil.ErrLocked):
				r.log.Warn("the record of received chunks is kept in memory: transfers.db is in use by another vtpeer process "+
					"(a transfer resumes after a restart only with a home of its own)", "dir", fo.RecordDir)
			case err != nil:
				cancel()
				return nil, err
			default:
				r.rec, r.recDB = boltRecord{db}, db
			}
		}
	}
	for _, id := range o.Present {
		r.present[id] = true
	}
	return r, nil
}

// Events reports what happens in the room (see Event). It is closed when
// the Node's events end or the Room is closed. Read it steadily: the Room
// waits for its reader.
func (r *Room) Events() <-chan Event { return r.events }

// Start starts reading the Node's events. If QueueChat's addressee is not
// among the members present at join, its messages are mailed at once.
func (r *Room) Start() {
	if r.started.Swap(true) {
		return
	}
	r.wg.Go(r.run)
}

// Close stops the Room and waits for its goroutines; it leaves the Node
// open (its owner closes it).
func (r *Room) Close() error {
	r.cancel()
	r.started.Store(true)
	r.wg.Wait()
	if r.recDB != nil {
		if err := r.recDB.Close(); err != nil {
			return fmt.Errorf("close the transfer record: %w", err)
		}
	}
	return nil
}

func (r *Room) run() {
	defer func() {
		// Transfers and SendFiles callers may still emit: they stop with ctx, and emit
		// checks evClosed under emitMu.
		r.cancel()
		r.emitMu.Lock()
		r.evClosed = true
		close(r.events)
		r.emitMu.Unlock()
	}()
	if r.depositIfAbsent() && r.mailPending == 0 {
		r.emit(Deposited{To: r.to, Count: len(r.waiting)})
	}
	mail, mailed := r.o.Mail, r.o.Mailed
	for {
		select {
		case b := <-r.delivered:
			r.onDelivered(b)
		case blob, ok := <-mail:
			if !ok {
				mail = nil
				continue
			}
			r.onMail(blob)
		case _, ok := <-mailed:
			if !ok {
				mailed = nil
				continue
			}
			r.onMailed()
		case ev, ok := <-r.o.Node.Events():
			if !ok {
				return
			}
			r.handle(ev)
		case <-r.ctx.Done():
			return
		}
	}
}

// emit hands ev to the reader of Events, unless the Room is closing.
func (r *Room) emit(ev Event) {
	r.emitMu.RLock()
	defer r.emitMu.RUnlock()
	if r.evClosed {
		return
	}
	select {
	case r.events <- ev:
	case <-r.ctx.Done():
	}
}

// handle dispatches one Node event.
func (r *Room) handle(ev peer.Event) {
	switch ev.(type) {
	case peer.PeerConnected, peer.PeerLeft, peer.Error, peer.PathChanged:
		defer r.notePeers()
	}
	switch e := ev.(type) {
	case peer.Message:
		r.handleMessage(e)
	case peer.PeerConnected:
		if r.o.Postbox != nil && e.Address != "" {
			if err := r.o.Postbox.Remember(e.Address, e.StaticKey); err != nil {
				r.log.Warn("saving a contact failed", "err", err)
			}
			r.deliverPending(e.Peer, e.Address)
		}
		r.emit(e)
		r.depositIfAbsent()
	case peer.Error:
		r.emit(e)
		delete(r.present, e.Peer)
		r.depositIfAbsent()
	default:
		r.emit(ev)
	}
}

// handleMessage decodes one application message and answers it.
func (r *Room) handleMessage(m peer.Message) {
	switch m.Kind {
	case KindChat:
		c, err := DecodeChat(m.Body)
		if err != nil {
			r.emit(Problem{Peer: m.Peer, Code: CodeBadMessage, Err: err})
			return
		}
		if r.seenBefore(m.Peer, c.ID) {
			return // an earlier copy (mail or an earlier session) was delivered
		}
		r.emit(Chat{Peer: m.Peer, Text: c.Text})
	case KindTip, KindQueuedTip:
		queued := m.Kind == KindQueuedTip
		v, receipt := r.judge(m.Body, queued)
		r.sendReceipt(m.Peer, receipt)
		if !v.Duplicate {
			r.emit(Tip{Peer: m.Peer, Queued: queued, Verdict: v})
		}
	case KindReceipt:
		rc, err := DecodeReceipt(m.Peer, m.Body)
		if err != nil {
			r.emit(Problem{Peer: m.Peer, Code: CodeBadReceipt, Err: err})
			return
		}
		if r.receipts[rc.MessageHash] && rc.Code == tips.CodeAlreadyAccepted {
			return
		}
		r.receipts[rc.MessageHash] = true
		r.emit(rc)
	case KindFileOffer, KindFileAnswer, KindFileStart, KindFileChunk, KindFileResult, KindFileCancel:
		r.handleFile(m)
	default:
		r.emit(Other{Peer: m.Peer, Kind: m.Kind, Body: m.Body})
	}
}

// judge hands a tip to the desk, or refuses it when the Room has none.
func (r *Room) judge(body []byte, queued bool) (tips.Verdict, tips.Receipt) {
	switch {
	case r.o.Desk == nil:
		return r.notReceiving(body)
	case queued:
		return r.o.Desk.JudgeQueued(r.ctx, body)
	default:
		return r.o.Desk.Judge(r.ctx, body)
	}
}

// notReceiving refuses a tip sent to a Room without a desk, with a receipt
// (signed when the Room has an account) that names the tip when it decodes.
func (r *Room) notReceiving(body []byte) (tips.Verdict, tips.Receipt) {
	v := tips.Verdict{Code: tips.CodeNotReceiving, Reason: "this peer does not take tips (it is only sending one)"}
	rc := tips.Receipt{Code: v.Code, Reason: v.Reason}
	if sm, err := tips.ParseSignedMeta(body); err == nil {
		rc.MessageHash = sm.Meta.MessageHash()
		v.MessageHash, v.From, v.To = rc.MessageHash.Hex(), sm.Meta.From.Hex(), sm.Meta.To.Hex()
	}
	if r.o.Signer != nil {
		if err := tips.SignReceipt(r.o.Signer, &rc); err != nil {
			r.log.Error("signing a receipt failed", "err", err)
		}
	}
	return v, rc
}

// seenBefore applies exactly-once to a message with an id from a peer.
func (r *Room) seenBefore(peerID, id string) bool {
	if r.o.Postbox == nil || id == "" {
		return false
	}
	sender := peerID
	for _, p := range r.o.Node.Peers() {
		if p.ID == peerID && p.Address != "" {
			sender = p.Address
		}
	}
	fresh, err := r.o.Postbox.Fresh(sender, id)
	return err == nil && !fresh
}

// Peers lists the peers the Node knows.
func (r *Room) Peers() []peer.PeerInfo { return r.o.Node.Peers() }

// Retry lets the Node handshake again with a peer it stopped trying (see
// peer.Node.Retry).
func (r *Room) Retry(peerID string) error { return r.o.Node.Retry(peerID) }

// WaitAcked waits until peerID acknowledged everything sent to it.
func (r *Room) WaitAcked(ctx context.Context, peerID string) error {
	return r.o.Node.WaitAcked(ctx, peerID)
}

// Flush waits until our acknowledgements and signaling have gone out.
func (r *Room) Flush(ctx context.Context) error { return r.o.Node.Flush(ctx) }

// Linger lets our last messages (receipts) reach the connected peers, and
// our acknowledgements leave, before the caller closes the Node; ctx bounds
// the wait.
func (r *Room) Linger(ctx context.Context) {
	for _, p := range r.o.Node.Peers() {
		if p.Connected && p.Unacked > 0 {
			_ = r.o.Node.WaitAcked(ctx, p.ID)
		}
	}
	_ = r.o.Node.Flush(ctx)
}

// Chat sends text to one peer.
func (r *Room) Chat(ctx context.Context, peerID, text string) error {
	body, err := marshal(ChatBody{Text: text})
	if err != nil {
		return err
	}
	return r.o.Node.Send(ctx, peerID, KindChat, body)
}

// SendTip sends a signed tip to one peer (pick it with ChooseTipTarget);
// its receipt arrives as a Receipt event.
func (r *Room) SendTip(ctx context.Context, peerID string, sm *tips.SignedMeta) error {
	body, err := marshal(sm)
	if err != nil {
		return err
	}
	if err := r.o.Node.Send(ctx, peerID, KindTip, body); err != nil {
		return fmt.Errorf("send tip: %w", err)
	}
	return nil
}

// sendReceipt answers a tip over the sealed channel.
func (r *Room) sendReceipt(peerID string, rc tips.Receipt) {
	body, err := marshal(rc)
	if err == nil {
		err = r.o.Node.Send(r.ctx, peerID, KindReceipt, body)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		r.log.Warn("sending a receipt failed", "peer", peerID, "err", err)
	}
}

// Waiting is the number of QueueChat messages not acknowledged yet.
func (r *Room) Waiting() int { return int(r.waitingN.Load()) }

// ChooseTipTarget picks the one peer a tip for the account to goes to: the
// connected peer that proves to; else, with peerFlag, that peer; else the
// only connected peer that proves no account. A peer proving another
// account never gets the tip; several unproven peers are refused with
// ErrAmbiguousTarget.
func ChooseTipTarget(ps []peer.PeerInfo, to, peerFlag string) (string, error) {
	var unproven, others []string
	for _, p := range ps {
		switch {
		case !p.Connected:
		case strings.EqualFold(p.Address, to):
			return p.ID, nil
		case p.Address != "":
			if p.ID == peerFlag {
				return "", fmt.Errorf("peer %s proves account %s, not the recipient %s: not sending it a tip for someone else", p.ID, p.Address, to)
			}
			others = append(others, p.Address)
		default:
			unproven = append(unproven, p.ID)
		}
	}
	if peerFlag != "" {
		for _, id := range unproven {
			if id == peerFlag {
				return id, nil
			}
		}
		return "", fmt.Errorf("peer %s is not connected (connected without an account: %s)", peerFlag, orDash(strings.Join(unproven, ", ")))
	}
	switch len(unproven) {
	case 0:
		if len(others) > 0 {
			return "", fmt.Errorf("no peer here proves %s (present: %s)", to, strings.Join(others, ", "))
		}
		return "", errors.New("no peer is connected")
	case 1:
		return unproven[0], nil
	default:
		return "", fmt.Errorf("%w: %d peers without an account are connected and none proves %s: pick one with --peer (%s)", ErrAmbiguousTarget, len(unproven), to, strings.Join(unproven, ", "))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
