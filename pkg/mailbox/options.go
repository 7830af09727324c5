package mailbox

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Options.
const (
	DefaultTTL               = 7 * 24 * time.Hour
	DefaultMaxMessagesPerBox = 100
	DefaultMaxBytesPerBox    = 1 << 20
	DefaultMaxMessageBytes   = 48 << 10 // seal.MaxMailSize
	DefaultMaxBoxes          = 10000
	DefaultMaxTotalBytes     = 256 << 20
	DefaultLockTimeout       = time.Second

	// MaxRoomLen bounds room names, as the seal does (seal.MaxRoomSize).
	MaxRoomLen = 1024
)

// Options configure Open. A nil *Options uses every default; a zero field
// uses its default.
type Options struct {
	// TTL is how long a message is kept (default DefaultTTL, 7 days).
	TTL time.Duration
	// MaxMessagesPerBox bounds the unexpired messages per (room, mailbox
	// id) (default 100). Put fails with ErrMailboxFull beyond it.
	MaxMessagesPerBox int
	// MaxBytesPerBox bounds the sum of their sizes (default 1 MiB). Put
	// fails with ErrMailboxBytes beyond it.
	MaxBytesPerBox int
	// MaxMessageBytes bounds one message (default 48 KiB). Put fails with
	// ErrTooBig beyond it.
	MaxMessageBytes int
	// MaxBoxes bounds the number of non-empty mailboxes over all rooms
	// (default 10000). Put to a new mailbox fails with ErrTooManyBoxes
	// beyond it, after pruning expired messages.
	MaxBoxes int
	// MaxTotalBytes bounds the sum of all stored messages, over every
	// mailbox (default DefaultMaxTotalBytes, 256 MiB). Put fails with
	// ErrStoreFull beyond it, after pruning expired messages. The file
	// stays under about 1.15 × this + 32 MiB + 4 KiB per mailbox (bbolt's
	// pages and growth steps; docs/SECURITY.md, "The signaling server").
	MaxTotalBytes int
	// LockTimeout bounds the wait for another process's file lock
	// (default 1 s); then Open fails with ErrInUse.
	LockTimeout time.Duration
	// Now is the clock (default time.Now). Tests inject one.
	Now func() time.Time
	// Logger receives debug logs (nil = discard). Nothing it logs
	// contains message bytes.
	Logger *slog.Logger
	// Registry, if set, receives the gauges vtpeer_mailbox_messages,
	// vtpeer_mailbox_bytes and vtpeer_mailbox_boxes and the counters
	// vtpeer_mailbox_rejected_total{reason} and
	// vtpeer_mailbox_expired_total.
	Registry prometheus.Registerer
}

func (o *Options) validate() error {
	if o.TTL < 0 || o.MaxMessagesPerBox < 0 || o.MaxBytesPerBox < 0 || o.MaxMessageBytes < 0 ||
		o.MaxBoxes < 0 || o.MaxTotalBytes < 0 || o.LockTimeout < 0 {
		return fmt.Errorf("%w: negative limit", ErrBadOptions)
	}
	return nil
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxMessagesPerBox, DefaultMaxMessagesPerBox)
	def(&o.MaxBytesPerBox, DefaultMaxBytesPerBox)
	def(&o.MaxMessageBytes, DefaultMaxMessageBytes)
	def(&o.MaxBoxes, DefaultMaxBoxes)
	def(&o.MaxTotalBytes, DefaultMaxTotalBytes)
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
