package app

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/verytippers/vtpeer/pkg/tips"
)

// Application message kinds carried over the sealed peer session (the kind
// of a peer.Message, a mailbox.Item and seal.MailContent). A kind this
// package does not know is passed on as an Other event.
const (
	KindChat    = "chat"    // body: ChatBody JSON
	KindTip     = "tip"     // body: signed-meta JSON (tips.SignedMeta)
	KindReceipt = "receipt" // body: tips.Receipt JSON
	// KindQueuedTip is a tip that waited for its recipient (the sender's
	// outbox or the server's mailbox): signed when it was queued, so it is
	// judged against tips.QueuedMaxAge instead of the live maximum age; a
	// second copy (outbox and mailbox both deliver) is answered as already
	// accepted (tips.CodeAlreadyAccepted).
	KindQueuedTip = "tip-queued"
)

// ChatBody is the body of a chat message.
type ChatBody struct {
	// ID is set on messages kept for offline delivery: the receiver
	// delivers each (sender, ID) once.
	ID   string `json:"id,omitempty"`
	Text string `json:"text"`
}

// DecodeChat decodes a chat body. The text must be UTF-8.
func DecodeChat(body []byte) (ChatBody, error) {
	var c ChatBody
	if err := json.Unmarshal(body, &c); err != nil {
		return ChatBody{}, fmt.Errorf("%w: %w", ErrBadChat, err)
	}
	if !utf8.ValidString(c.Text) || !utf8.ValidString(c.ID) {
		return ChatBody{}, fmt.Errorf("%w: not UTF-8", ErrBadChat)
	}
	return c, nil
}

// DecodeReceipt decodes a receipt and, when it is signed, checks its
// signature: Receipt.SignerValid says a signer was proven.
func DecodeReceipt(peerID string, body []byte) (Receipt, error) {
	var r tips.Receipt
	if err := json.Unmarshal(body, &r); err != nil {
		return Receipt{}, fmt.Errorf("%w from %s: %w", ErrBadReceipt, short(peerID), err)
	}
	ev := Receipt{Peer: peerID, MessageHash: r.MessageHash.Hex(), Accepted: r.Accepted,
		Code: r.Code, Reason: r.Reason, Forwarded: r.Forwarded}
	if r.Signer != nil {
		ev.Signer = r.Signer.Hex()
		if _, err := tips.VerifyReceipt(&r); err != nil {
			return Receipt{}, fmt.Errorf("receipt from %s: %w", short(peerID), err)
		}
		ev.SignerValid = true
	}
	return ev, nil
}

// short abbreviates a peer id or address for messages.
func short(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}
