package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/verytippers/vtpeer/pkg/app"
	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// errNoRecipient: with --queue, the recipient is not in the room.
var errNoRecipient = errors.New("the recipient is not here")

// sendTip joins o's room, sends sm to the right peer over the sealed channel
// and waits for its receipt: exit 0 when accepted, 1 with the reason if not.
func sendTip(ctx context.Context, g *globals, o *tipOptions, sm *tips.SignedMeta) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	ice, err := o.net.iceServers()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.timeout, errTimedOut)
	defer cancel()
	out := newOutput(g.stdout, false)
	mailed, refused := make(chan struct{}, 1), make(chan error, 1)
	cfg := roomConfig{server: o.net.server, room: o.room, token: o.net.token, iceServers: ice,
		loopbackOnly: o.net.loopback, via: o.net.via, p2pTimeout: o.net.p2p, turnWait: o.net.turnWait, connect: o.net.connect, logger: log,
		status: func(s statusUpdate) {
			if s.kind == "error" {
				select {
				case refused <- fmt.Errorf("%w (%s)", s.err, s.code):
				default:
				}
			}
		},
		onMailed: func() { mailed <- struct{}{} }}
	if o.signer != nil {
		cfg.signer = o.signer
	}
	ms, err := startRoom(ctx, cfg)
	if err != nil {
		return err
	}
	defer ms.Close()
	// A room without a desk: a tip sent to us is answered with a refusal receipt.
	room, err := app.New(&app.Options{Room: o.room, Node: ms.node, Signer: cfg.signer, Present: ms.peers, Logger: log})
	if err != nil {
		return err
	}
	room.Start()
	defer room.Close()
	to := sm.Meta.To.Hex()
	hash := sm.Meta.MessageHash()

	target, err := awaitTarget(ctx, room, ms.peers, to, o.peer, o.queue)
	if errors.Is(err, errNoRecipient) && o.queue {
		return queueTip(ctx, g, o, ms, sm, out, mailed, refused)
	}
	if err != nil {
		return err
	}
	if err := room.SendTip(ctx, target, sm); err != nil {
		return err
	}
	out.event(nil, fmt.Sprintf("* tip %s of %s VERY to %s sent to peer %s; waiting for the receipt", shortID(hash.Hex()), tips.FormatAmount(sm.Meta.Amount), to, shortID(target)))
	ev, err := awaitReceipt(ctx, room, target, hash)
	if err != nil {
		return err
	}
	out.event(nil, receiptLine(shortID(target), ev))
	fctx, fcancel := context.WithTimeout(ctx, 2*time.Second)
	_ = room.Flush(fctx) // acknowledge the receipt before leaving
	fcancel()
	if !ev.Accepted {
		return fmt.Errorf("tip refused by the peer: %s (%s)", ev.Reason, ev.Code)
	}
	return nil
}

// awaitTarget waits until it can tell which peer gets the tip: at once when
// a peer proves the recipient's address; otherwise once every member present
// at join time (or, in an empty room, the first newcomer) has connected or
// failed. While no acceptable peer is there (only peers proving other
// accounts), it keeps waiting for the recipient until ctx ends.
func awaitTarget(ctx context.Context, room *app.Room, present []string, to, peerFlag string, giveUp bool) (string, error) {
	return awaitPeer(ctx, room, present, to, peerFlag, giveUp, app.ChooseTipTarget, "a peer to take the tip for "+to)
}

// awaitPeer is awaitTarget with the rule choose (app.ChooseTipTarget, app.ChooseFileTarget);
// what names the peer waited for in the timeout's message.
func awaitPeer(ctx context.Context, room *app.Room, present []string, to, peerFlag string, giveUp bool,
	choose func([]peer.PeerInfo, string, string) (string, error), what string) (string, error) {
	if giveUp && len(present) == 0 {
		return "", fmt.Errorf("%w: nobody is in the room", errNoRecipient)
	}
	pending := map[string]bool{}
	for _, id := range present {
		pending[id] = true
	}
	seen := 0
	why := "nobody came"
	for {
		select {
		case ev, ok := <-room.Events():
			if !ok {
				return "", errors.New("peer node stopped")
			}
			switch e := ev.(type) {
			case peer.PeerConnected:
				seen++
				delete(pending, e.Peer)
				if (to != "" && strings.EqualFold(e.Address, to)) || (peerFlag != "" && e.Peer == peerFlag) {
					return e.Peer, nil
				}
			case peer.Error:
				if e.Peer != "" {
					delete(pending, e.Peer)
				}
			case peer.PeerLeft:
				delete(pending, e.Peer)
			}
			if seen > 0 && len(pending) == 0 {
				id, err := choose(room.Peers(), to, peerFlag)
				if err == nil || errors.Is(err, app.ErrAmbiguousTarget) {
					return id, err // chosen, or ambiguous: waiting will not help
				}
				if giveUp {
					return "", fmt.Errorf("%w: %w", errNoRecipient, err)
				}
				why = err.Error()
			}
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errTimedOut) {
				return "", fmt.Errorf("timed out waiting for %s (%s)", what, why)
			}
			return "", ctx.Err()
		}
	}
}

// awaitReceipt waits for target's receipt for hash.
func awaitReceipt(ctx context.Context, room *app.Room, target string, hash common.Hash) (evReceipt, error) {
	for {
		select {
		case ev, ok := <-room.Events():
			if !ok {
				return evReceipt{}, errors.New("peer node stopped")
			}
			switch e := ev.(type) {
			case app.Receipt:
				if e.Peer == target && e.MessageHash == hash.Hex() {
					return receiptEvent(e), nil
				}
			case app.Problem:
				if e.Peer == target && e.Code == app.CodeBadReceipt {
					return evReceipt{}, e.Err
				}
			case peer.PeerLeft:
				if e.Peer == target {
					return evReceipt{}, fmt.Errorf("peer %s left before sending a receipt", shortID(target))
				}
			case peer.Error:
				if e.Peer == target {
					return evReceipt{}, fmt.Errorf("peer %s: %w", shortID(target), e.Err)
				}
			}
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errTimedOut) {
				return evReceipt{}, errors.New("timed out waiting for the receipt")
			}
			return evReceipt{}, ctx.Err()
		}
	}
}

// receiptLine is a receipt for humans.
func receiptLine(from string, ev evReceipt) string {
	verdict := "ACCEPTED"
	if !ev.Accepted {
		verdict = fmt.Sprintf("REFUSED: %s (%s)", ev.Reason, ev.Code)
	}
	signed := "unsigned"
	if ev.SignerValid {
		signed = "signed by " + ev.Signer
	}
	line := fmt.Sprintf("* receipt from %s for tip %s: %s, %s", from, shortID(ev.MessageHash), verdict, signed)
	if ev.Forwarded != "" {
		line += ", forward " + ev.Forwarded
	}
	return line
}

// tipLine is an incoming tip for humans.
func tipLine(from string, ev tipEvent) string {
	if !ev.Verified {
		return fmt.Sprintf("! tip from %s REFUSED: %s (%s)", from, ev.Reason, ev.Code)
	}
	line := fmt.Sprintf("* tip from %s: %s VERY %s → %s, verified (hash %s)", from, ev.AmountVery, shortID(ev.From), shortID(ev.To), shortID(ev.MessageHash))
	if ev.Cid != "" {
		line += fmt.Sprintf(", cid %q", ev.Cid)
	}
	if !ev.TimestampSigned {
		line += ", timestamp not signed"
	}
	if ev.Forwarded != "" {
		line += ", forward " + ev.Forwarded
	}
	return line
}

// queueTip keeps a signed tip for an absent recipient: in the postbox's
// outbox (any later `vtpeer join` of ours delivers it when we meet) and, when
// the recipient's mail key is known, sealed into the server's mailbox.
func queueTip(ctx context.Context, g *globals, o *tipOptions, ms *membership, sm *tips.SignedMeta, out *output,
	mailed <-chan struct{}, refused <-chan error) error {
	pb, err := openPostbox(vtpeerHome(g))
	if err != nil {
		return err
	}
	defer pb.Close()
	to := sm.Meta.To.Hex()
	hash := sm.Meta.MessageHash().Hex()
	deposited, err := app.QueueTip(ctx, pb, ms, o.room, o.signer, sm)
	if err != nil {
		return err
	}
	if !deposited {
		out.event(nil, fmt.Sprintf("* %s is not here and never proved a mail key to you: tip %s stays in your outbox; `vtpeer join %s` with this account delivers it when you meet (within %s of signing)",
			to, shortID(hash), o.room, tips.QueuedMaxAge))
		return nil
	}
	select {
	case <-mailed:
	case err := <-refused:
		// Still queued: exit 0 so that nobody signs the tip a second time.
		out.event(nil, fmt.Sprintf("* the server keeps no mail for %s (%v): tip %s stays in your outbox; `vtpeer join %s` with this account delivers it when you meet",
			to, err, shortID(hash), o.room))
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no answer from the server about the tip's mail (it stays in your outbox): %w", context.Cause(ctx))
	}
	out.event(nil, fmt.Sprintf("* tip %s for %s left sealed in the server's mailbox (and in your outbox); they verify it when they next join", shortID(hash), to))
	return nil
}
