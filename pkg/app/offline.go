package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/verytippers/vtpeer/pkg/mailbox"
	"github.com/verytippers/vtpeer/pkg/seal"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// QueueChat keeps texts for the account to in the postbox's outbox until
// that account acknowledges them: they are sent when it connects (Delivered)
// and, when it is absent and its mail key is known, sealed into the server's
// mailbox (Deposited). Call it before Start, at most once.
func (r *Room) QueueChat(to string, texts []string) error {
	if r.started.Load() {
		return ErrStarted
	}
	if r.o.Postbox == nil {
		return ErrNoAccount
	}
	r.to = to
	for _, text := range texts {
		id := NewMessageID()
		body, err := marshal(ChatBody{ID: id, Text: text})
		if err != nil {
			return err
		}
		if err := r.o.Postbox.Queue(to, mailbox.Item{ID: id, Kind: KindChat, Body: body}); err != nil {
			return fmt.Errorf("queue for %s: %w", to, err)
		}
		r.waiting[id] = true
	}
	r.waitingN.Store(int64(len(r.waiting)))
	return nil
}

// deliveredBatch is a set of outbox items a peer acknowledged.
type deliveredBatch struct {
	address string
	items   []mailbox.Item
}

// deliverPending sends peerID (proven as address) everything queued for
// it; the items leave the outbox once the peer acknowledged them.
func (r *Room) deliverPending(peerID, address string) {
	items, err := r.o.Postbox.Pending(address)
	if err != nil || len(items) == 0 {
		if err != nil {
			r.log.Warn("reading the outbox failed", "err", err)
		}
		return
	}
	for _, it := range items {
		if err := r.o.Node.Send(r.ctx, peerID, it.Kind, it.Body); err != nil {
			r.log.Warn("delivering a queued message failed", "to", address, "err", err)
			return
		}
	}
	r.wg.Go(func() {
		if err := r.o.Node.WaitAcked(r.ctx, peerID); err != nil {
			return // kept in the outbox: next time
		}
		select {
		case r.delivered <- deliveredBatch{address: address, items: items}:
		case <-r.ctx.Done():
		}
	})
}

// onDelivered removes acknowledged items from the outbox.
func (r *Room) onDelivered(b deliveredBatch) {
	for _, it := range b.items {
		if err := r.o.Postbox.Done(b.address, it.ID); err != nil {
			r.log.Warn("updating the outbox failed", "err", err)
		}
		delete(r.waiting, it.ID)
	}
	r.waitingN.Store(int64(len(r.waiting)))
	r.emit(Delivered{To: b.address, Count: len(b.items),
		Done: r.to != "" && strings.EqualFold(b.address, r.to) && len(r.waiting) == 0})
}

// depositIfAbsent mails what is queued for QueueChat's addressee to the
// server's mailbox once every member present at join time has connected
// without proving that address (or failed). It reports whether it decided
// (mailed, or found nothing it could mail).
func (r *Room) depositIfAbsent() bool {
	if r.to == "" || r.deposited || len(r.waiting) == 0 {
		return false
	}
	for _, p := range r.o.Node.Peers() {
		if strings.EqualFold(p.Address, r.to) {
			return false // here: direct delivery
		}
		if !p.Connected && r.present[p.ID] {
			return false // still connecting: it may be the addressee
		}
	}
	key := r.o.Postbox.ContactKey(r.to)
	if key == nil || r.o.Mailer == nil {
		r.emit(DepositSkipped{To: r.to, NoKey: true})
		r.deposited = true
		return false
	}
	items, err := r.o.Postbox.Pending(r.to)
	if err != nil {
		r.log.Warn("reading the outbox failed", "err", err)
		return false
	}
	items, stale := Mailable(items, time.Now())
	if stale > 0 {
		r.emit(DepositSkipped{To: r.to, Stale: stale})
	}
	for _, it := range items {
		blob, err := r.o.Postbox.SealMail(r.o.Room, r.o.Signer, key, it)
		if err == nil {
			err = r.o.Mailer.Mail(r.ctx, key, blob)
		}
		if err != nil {
			r.emit(Problem{Code: CodeMail, Err: err})
			return false
		}
	}
	r.deposited = true
	r.mailPending, r.mailTotal = len(items), len(items)
	return true
}

// onMailed counts the server's confirmations of our deposits.
func (r *Room) onMailed() {
	r.mailPending--
	if r.mailPending == 0 {
		r.emit(Deposited{To: r.to, Count: len(r.waiting), Mailed: r.mailTotal})
	}
}

// onMail opens mail the server kept for us and delivers it once.
func (r *Room) onMail(blob []byte) {
	pb := r.o.Postbox
	if pb == nil {
		r.log.Debug("mail without a postbox: dropped")
		return
	}
	c, err := pb.OpenMail(r.o.Room, blob)
	if err != nil {
		r.emit(Problem{Code: CodeBadMail, Err: err})
		return
	}
	if err := c.CheckSentAt(time.Now()); err != nil {
		code := CodeMailTooOld
		if errors.Is(err, seal.ErrMailFromFuture) {
			code = CodeMailFromFuture
		}
		r.emit(Problem{Peer: "mailbox", From: c.From, Code: code, Err: err})
		return
	}
	if fresh, err := pb.Fresh(c.From, c.ID); err != nil || !fresh {
		return // delivered before (directly or by an earlier copy)
	}
	switch c.Kind {
	case KindQueuedTip:
		r.onMailedTip(c)
	case KindChat:
		cb, err := DecodeChat(c.Body)
		if err != nil {
			r.log.Debug("undecodable chat in mail", "err", err)
			return
		}
		r.emit(Chat{Peer: "mailbox", From: c.From, Text: cb.Text, Mail: true, SentAt: time.UnixMilli(c.SentAt)})
	default:
		r.log.Debug("ignoring mail of kind", "kind", c.Kind)
	}
}

// onMailedTip judges a tip left in the server's mailbox. Its receipt waits
// in our outbox for the tipper (delivered when we next meet).
func (r *Room) onMailedTip(c seal.MailContent) {
	v, receipt := r.judge(c.Body, true)
	if !v.Duplicate {
		r.emit(Tip{Peer: "mailbox", From: c.From, Queued: true, Verdict: v})
	}
	body, err := marshal(receipt)
	if err == nil {
		err = r.o.Postbox.Queue(c.From, mailbox.Item{ID: "r-" + c.ID, Kind: KindReceipt, Body: body})
	}
	if err != nil && !errors.Is(err, mailbox.ErrDuplicate) {
		r.log.Warn("keeping a receipt for the tipper failed", "err", err)
	}
}

// Mailable returns the items young enough to be mailed (a receiver refuses
// mail signed more than seal.MailMaxAge ago; SealMail signs Added) and how
// many were left out. items is not changed.
func Mailable(items []mailbox.Item, now time.Time) ([]mailbox.Item, int) {
	keep := items[:0:0]
	for _, it := range items {
		if it.Added.IsZero() || now.Sub(it.Added) < seal.MailMaxAge {
			keep = append(keep, it)
		}
	}
	return keep, len(items) - len(keep)
}

// QueueTip keeps a signed tip for an absent recipient: in pb's outbox (a
// later Room with this postbox delivers it as KindQueuedTip when they meet,
// within tips.QueuedMaxAge of signing) and, when the recipient's mail key
// is known, sealed into the server's mailbox through m (the server's
// confirmation then arrives as a mailed frame). mailed reports whether it
// was deposited. signer must be the tip's signer.
func QueueTip(ctx context.Context, pb *Postbox, m Mailer, room string, signer tips.Signer, sm *tips.SignedMeta) (mailed bool, err error) {
	body, err := marshal(sm)
	if err != nil {
		return false, err
	}
	to := sm.Meta.To.Hex()
	hash := sm.Meta.MessageHash().Hex()
	it := mailbox.Item{ID: hash[2:34], Kind: KindQueuedTip, Body: body, Added: time.Now()}
	if err := pb.Queue(to, it); err != nil && !errors.Is(err, mailbox.ErrDuplicate) {
		return false, fmt.Errorf("queue the tip: %w", err)
	}
	key := pb.ContactKey(to)
	if key == nil {
		return false, nil
	}
	blob, err := pb.SealMail(room, signer, key, it)
	if err != nil {
		return false, err
	}
	if err := m.Mail(ctx, key, blob); err != nil {
		return false, fmt.Errorf("deposit the tip: %w", err)
	}
	return true, nil
}

func marshal(v any) ([]byte, error) { return json.Marshal(v) }
