package cluster

import "errors"

// Sentinel errors returned by this package. Compare with errors.Is; the
// errors of signal.Cluster methods wrap signal's sentinels instead.
var (
	// ErrBadOptions is returned by New and StartNode for invalid options.
	ErrBadOptions = errors.New("cluster: bad options")
	// ErrBadEnvelope is returned by decodeEnvelope for bytes that are not
	// a forwarded frame.
	ErrBadEnvelope = errors.New("cluster: bad envelope")
	// ErrBadRoomValue is returned by decodeRoom for bytes that are not a
	// room's state.
	ErrBadRoomValue = errors.New("cluster: bad room value")
	// ErrNotReady is returned by StartNode when the embedded server does
	// not accept connections in time.
	ErrNotReady = errors.New("cluster: server not ready")
	// ErrStoreLocked is returned by StartNode when another process runs a
	// node on the same StoreDir.
	ErrStoreLocked = errors.New("cluster: jetstream store in use by another process")
	// ErrBadStore is returned by StartNode for a StoreDir whose kept
	// server name is unreadable or not the one asked for.
	ErrBadStore = errors.New("cluster: bad jetstream store")
)

// Errors of MailStore.Put and Take (the deposit is refused; the
// signaling server tells the depositor mail_refused with the text).
var (
	// ErrBadMailRoom means the room is empty, longer than 1024 bytes or
	// not UTF-8.
	ErrBadMailRoom = errors.New("cluster: invalid mail room")
	// ErrBadMailboxID means the mailbox id is not 32 lower-case hex digits.
	ErrBadMailboxID = errors.New("cluster: invalid mailbox id")
	// ErrMailEmpty means an empty message.
	ErrMailEmpty = errors.New("cluster: empty message")
	// ErrMailTooBig means a message over MailOptions.MaxMessageBytes.
	ErrMailTooBig = errors.New("cluster: message too big")
	// ErrMailboxFull means the mailbox holds MaxMessagesPerBox messages.
	ErrMailboxFull = errors.New("cluster: mailbox full")
	// ErrMailboxBytes means the message would take the mailbox over
	// MaxBytesPerBox.
	ErrMailboxBytes = errors.New("cluster: mailbox byte limit reached")
	// ErrTooManyBoxes means a new mailbox would exceed MaxBoxes.
	ErrTooManyBoxes = errors.New("cluster: too many mailboxes")
	// ErrMailStoreFull means the message would take the stream over
	// MaxTotalBytes.
	ErrMailStoreFull = errors.New("cluster: mail store full")
)
