package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/verytippers/vtpeer/pkg/mailbox"
	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/seal"
)

// Offline delivery in `vtpeer join` (needs an account on both sides):
//
//   - `--to 0xADDR --send TEXT` queues TEXT for that account in the
//     postbox's outbox on disk. Whenever a peer proves that address, every
//     message still queued for it is sent over the sealed channel and
//     removed once acknowledged; the receiver drops ids it has seen, so
//     delivery is exactly once across restarts of either side.
//   - When the account is not in the room and its static key is known from
//     an earlier handshake, the messages are also sealed to that key (HPKE)
//     and deposited in the server's mailbox, which hands them over when the
//     recipient next joins: this works after the sender has quit.

// evDelivered reports messages acknowledged by their addressee.
type evDelivered struct {
	Type  string `json:"type"` // "delivered"
	To    string `json:"to"`
	Count int    `json:"count"`
}

// evQueued reports --to messages still waiting in the outbox when join ends.
type evQueued struct {
	Type  string `json:"type"` // "queued"
	To    string `json:"to"`
	Count int    `json:"count"`
}

// evDeposited reports messages left in the server's mailbox.
type evDeposited struct {
	Type  string `json:"type"` // "deposited"
	To    string `json:"to"`
	Count int    `json:"count"`
}

// queueSend puts the --send texts for --to into the outbox.
func (j *joinLoop) queueSend() error {
	for _, text := range j.o.send {
		id := newMessageID()
		body, err := json.Marshal(chatBody{ID: id, Text: text})
		if err != nil {
			return err
		}
		if err := j.pb.queue(j.o.to, mailbox.Item{ID: id, Kind: kindChat, Body: body}); err != nil {
			return fmt.Errorf("queue for %s: %w", j.o.to, err)
		}
		j.waiting[id] = true
	}
	j.out.text("* %d message(s) for %s kept in the outbox until delivered", len(j.o.send), j.o.to)
	return nil
}

// deliverPending sends peerID (proven as address) everything queued for
// it and removes each item once the peer acknowledged it.
func (j *joinLoop) deliverPending(ctx context.Context, peerID, address string) {
	items, err := j.pb.pending(address)
	if err != nil || len(items) == 0 {
		if err != nil {
			j.log.Warn("reading the outbox failed", "err", err)
		}
		return
	}
	for _, it := range items {
		if err := j.rs.node.Send(ctx, peerID, it.Kind, it.Body); err != nil {
			j.log.Warn("delivering a queued message failed", "to", address, "err", err)
			return
		}
	}
	go func() {
		if err := j.rs.node.WaitAcked(ctx, peerID); err != nil {
			return // kept in the outbox: next time
		}
		j.delivered <- deliveredBatch{address: address, items: items}
	}()
}

// deliveredBatch is a set of outbox items a peer acknowledged.
type deliveredBatch struct {
	address string
	items   []mailbox.Item
}

// onDelivered removes acknowledged items; it reports whether --to --send is
// complete.
func (j *joinLoop) onDelivered(b deliveredBatch) bool {
	for _, it := range b.items {
		if err := j.pb.done(b.address, it.ID); err != nil {
			j.log.Warn("updating the outbox failed", "err", err)
		}
		delete(j.waiting, it.ID)
	}
	j.out.event(evDelivered{Type: "delivered", To: b.address, Count: len(b.items)},
		fmt.Sprintf("* %d queued message(s) delivered to %s", len(b.items), b.address))
	return j.o.to != "" && strings.EqualFold(b.address, j.o.to) && len(j.waiting) == 0
}

// depositIfAbsent mails what is queued for --to to the server's mailbox
// once every member present at join time has connected without proving
// that address. It reports whether mail was deposited.
func (j *joinLoop) depositIfAbsent(ctx context.Context) bool {
	if j.o.to == "" || j.deposited || len(j.waiting) == 0 {
		return false
	}
	for _, p := range j.rs.node.Peers() {
		if strings.EqualFold(p.Address, j.o.to) {
			return false // here: direct delivery
		}
		if !p.Connected && j.presentAtJoin[p.ID] {
			return false // still connecting: it may be the addressee
		}
	}
	key := j.pb.contactKey(j.o.to)
	if key == nil {
		j.out.text("* %s is not here and never proved a mail key to you: the messages wait in the outbox for a direct meeting", j.o.to)
		j.deposited = true
		return false
	}
	items, err := j.pb.pending(j.o.to)
	if err != nil {
		j.log.Warn("reading the outbox failed", "err", err)
		return false
	}
	items, stale := mailable(items, time.Now())
	if stale > 0 {
		j.out.text("* %d message(s) for %s are older than %s: the recipient would refuse them as mail, so they wait in the outbox for a direct meeting",
			stale, j.o.to, seal.MailMaxAge)
	}
	for _, it := range items {
		blob, err := j.pb.sealMail(j.o.room, j.signer, key, it)
		if err == nil {
			err = j.rs.mail(ctx, key, blob)
		}
		if err != nil {
			j.out.event(evError{Type: "error", Code: "mail", Error: err.Error()}, "! mail: "+err.Error())
			return false
		}
	}
	j.deposited = true
	j.mailPending = len(items)
	return true
}

// onMailed counts the server's confirmations; it reports whether every
// deposit is confirmed.
func (j *joinLoop) onMailed() bool {
	j.mailPending--
	if j.mailPending > 0 {
		return false
	}
	j.out.event(evDeposited{Type: "deposited", To: j.o.to, Count: len(j.waiting)},
		fmt.Sprintf("* %d message(s) for %s left in the server's mailbox (sealed to their key)", len(j.waiting), j.o.to))
	return true
}

// onMail shows mail the server kept for us.
func (j *joinLoop) onMail(ctx context.Context, blob []byte) {
	c, err := j.pb.openMail(j.o.room, blob)
	if err != nil {
		j.out.event(evError{Type: "error", Code: "bad_mail", Error: err.Error()}, "! mail that does not open: "+err.Error())
		return
	}
	if err := c.CheckSentAt(time.Now()); err != nil {
		code := "mail_too_old"
		if errors.Is(err, seal.ErrMailFromFuture) {
			code = "mail_from_future"
		}
		j.out.event(evError{Type: "error", Peer: "mailbox", Code: code, Error: err.Error()},
			fmt.Sprintf("! mail from %s refused: %v", c.From, err))
		return
	}
	if fresh, err := j.pb.fresh(c.From, c.ID); err != nil || !fresh {
		return // delivered before (directly or by an earlier copy)
	}
	if c.Kind == kindQueuedTip {
		j.onMailedTip(ctx, c)
		return
	}
	if c.Kind != kindChat {
		j.log.Debug("ignoring mail of kind", "kind", c.Kind)
		return
	}
	var cb chatBody
	if err := json.Unmarshal(c.Body, &cb); err != nil {
		return
	}
	sent := time.UnixMilli(c.SentAt)
	j.out.event(evMessage{Type: "message", Peer: "mailbox", From: c.From, Text: cb.Text, SentAt: sent.UTC().Format(time.RFC3339)},
		fmt.Sprintf("<%s> (mail, sent %s): %s", shortID(c.From), sent.Local().Format("Jan 2 15:04"), cb.Text))
	j.received++
}

// seenBefore applies exactly-once to a message with an id from a peer.
func (j *joinLoop) seenBefore(m peer.Message, id string) bool {
	if j.pb == nil || id == "" {
		return false
	}
	sender := m.Peer
	for _, p := range j.rs.node.Peers() {
		if p.ID == m.Peer && p.Address != "" {
			sender = p.Address
		}
	}
	fresh, err := j.pb.fresh(sender, id)
	return err == nil && !fresh
}

// onMailedTip judges a tip left in the server's mailbox. Its receipt waits
// in our outbox for the tipper (delivered when we next meet).
func (j *joinLoop) onMailedTip(ctx context.Context, c seal.MailContent) {
	ev, receipt, dup := j.desk.receiveQueued(ctx, "mailbox", c.Body)
	if !dup {
		j.out.event(evTip{Type: "tip", tipEvent: ev}, tipLine(shortID(c.From), ev)+" (from the mailbox)")
		j.received++
	}
	body, err := json.Marshal(receipt)
	if err == nil {
		err = j.pb.queue(c.From, mailbox.Item{ID: "r-" + c.ID, Kind: kindReceipt, Body: body})
	}
	if err != nil && !errors.Is(err, mailbox.ErrDuplicate) {
		j.log.Warn("keeping a receipt for the tipper failed", "err", err)
	}
}

// mailable returns the items young enough to be mailed (a receiver refuses
// mail signed more than seal.MailMaxAge ago; sealMail signs Added) and how
// many were left out.
func mailable(items []mailbox.Item, now time.Time) ([]mailbox.Item, int) {
	keep := items[:0:0]
	for _, it := range items {
		if it.Added.IsZero() || now.Sub(it.Added) < seal.MailMaxAge {
			keep = append(keep, it)
		}
	}
	return keep, len(items) - len(keep)
}
