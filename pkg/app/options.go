package app

import (
	"fmt"
	"log/slog"

	"github.com/verytippers/vtpeer/pkg/tips"
)

// Options configure New. Room and Node are required.
type Options struct {
	// Room is the room's name: mail is sealed and signed for it.
	Room string
	// Node carries the sealed sessions with the room's peers. Required.
	// The Room becomes the only reader of its Events.
	Node Node
	// Signer is this user's account; nil is anonymous (no tips sent from
	// the chat, no offline delivery, receipts unsigned).
	Signer tips.Signer
	// Desk judges the tips peers send us; nil answers every tip with a
	// refusal receipt (tips.CodeNotReceiving): a Room that only sends.
	Desk *tips.Desk
	// Postbox keeps offline delivery state (outbox, seen ids, contacts,
	// mail key); it needs a Signer. nil: no offline delivery and no mail.
	Postbox *Postbox
	// Mailer deposits mail on the signaling server; nil: nothing is mailed
	// (queued messages wait in the outbox for a direct meeting).
	Mailer Mailer
	// Mail delivers sealed mail blobs the server kept for us (nil: none).
	Mail <-chan []byte
	// Mailed delivers the server's confirmation of each of our deposits.
	Mailed <-chan struct{}
	// Present are the members that were in the room when we joined: mail
	// for an absent addressee is deposited only once each of them has
	// connected without proving its address (or failed).
	Present []string
	// Files, if set, makes the Room take files peers offer (into Files.Dir);
	// nil refuses every offer (XferNotReceiving). Sending needs nothing.
	Files *FileOptions
	// Logger receives diagnostics (nil = discard); never message contents.
	Logger *slog.Logger
}

func (o *Options) validate() error {
	switch {
	case o == nil:
		return fmt.Errorf("%w: nil", ErrBadOptions)
	case o.Room == "":
		return fmt.Errorf("%w: empty room", ErrBadOptions)
	case o.Node == nil:
		return fmt.Errorf("%w: nil node", ErrBadOptions)
	case o.Files != nil && o.Files.Dir == "":
		return fmt.Errorf("%w: files need a receive directory", ErrBadOptions)
	case o.Postbox != nil && o.Signer == nil:
		return fmt.Errorf("%w: a postbox needs a signer", ErrBadOptions)
	}
	return nil
}
