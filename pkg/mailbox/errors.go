package mailbox

import "errors"

// Sentinel errors returned by this package. Compare with errors.Is.
var (
	// ErrBadOptions is returned by Open, OpenOutbox and NewOutbox for
	// invalid options (negative limits, metrics already registered).
	ErrBadOptions = errors.New("mailbox: invalid options")

	// ErrInUse means another process holds the store file's lock.
	ErrInUse = errors.New("mailbox: store in use by another process")

	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("mailbox: store closed")

	// ErrBadRoom means the room name is empty, longer than MaxRoomLen or
	// not valid UTF-8.
	ErrBadRoom = errors.New("mailbox: invalid room")

	// ErrBadMailboxID means the mailbox id is not 32 lower-case hex
	// digits (seal.MailboxID).
	ErrBadMailboxID = errors.New("mailbox: invalid mailbox id")

	// ErrEmpty means Put was given an empty message.
	ErrEmpty = errors.New("mailbox: empty message")

	// ErrTooBig means a message exceeds Options.MaxMessageBytes (Box) or
	// OutboxOptions.MaxItemBytes (Outbox).
	ErrTooBig = errors.New("mailbox: message too big")

	// ErrMailboxFull means the mailbox already holds
	// Options.MaxMessagesPerBox unexpired messages.
	ErrMailboxFull = errors.New("mailbox: mailbox full")

	// ErrMailboxBytes means the message would take the mailbox over
	// Options.MaxBytesPerBox.
	ErrMailboxBytes = errors.New("mailbox: mailbox byte limit reached")

	// ErrTooManyBoxes means a new mailbox would exceed Options.MaxBoxes.
	ErrTooManyBoxes = errors.New("mailbox: too many mailboxes")

	// ErrStoreFull means the message would take the whole store over
	// Options.MaxTotalBytes.
	ErrStoreFull = errors.New("mailbox: store full")

	// ErrBadRecipient means an outbox recipient is not 1..128 bytes of
	// printable ASCII.
	ErrBadRecipient = errors.New("mailbox: invalid recipient")

	// ErrBadID means a message id is not 1..64 bytes of [A-Za-z0-9_-]
	// (seen ids: 1..200 bytes of printable ASCII).
	ErrBadID = errors.New("mailbox: invalid message id")

	// ErrBadKind means an outbox item's kind is not 1..64 bytes of
	// printable ASCII.
	ErrBadKind = errors.New("mailbox: invalid message kind")

	// ErrDuplicate means Outbox.Add was given an id already queued for
	// that recipient.
	ErrDuplicate = errors.New("mailbox: duplicate message id")

	// ErrOutboxFull means the recipient already has
	// OutboxOptions.MaxItems pending items.
	ErrOutboxFull = errors.New("mailbox: outbox full")
)
