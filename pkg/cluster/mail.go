package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// Defaults for MailOptions: the same as pkg/mailbox's.
const (
	DefaultMailTTL           = 7 * 24 * time.Hour
	DefaultMaxMessagesPerBox = 100
	DefaultMaxBytesPerBox    = 1 << 20
	DefaultMaxMessageBytes   = 48 << 10
	DefaultMaxBoxes          = 10000
	DefaultMaxTotalBytes     = 256 << 20

	// maxMailRoomLen bounds room names, as pkg/mailbox does.
	maxMailRoomLen = 1024
	// mailTimeout bounds one Put or Take.
	mailTimeout = 5 * time.Second
	// hdrTally is the header each message carries: "N B", the messages
	// and bytes deposited into its mailbox up to and including it since
	// the mailbox was last emptied. The difference between the last and
	// the first message's tallies is what the mailbox holds.
	hdrTally = "Vtpeer-Tally"
)

// MailOptions configure a MailStore. A nil *MailOptions, and every zero
// field, means the documented default.
type MailOptions struct {
	// Prefix starts the stream's name and subjects (default "vtpeer").
	Prefix string
	// Replicas is the number of copies JetStream keeps (default 1; 3 in a
	// cluster of three or more).
	Replicas int
	// TTL is how long a message is kept (default 7 days): the stream's
	// MaxAge, and Take hands over nothing older.
	TTL time.Duration
	// MaxMessagesPerBox (default 100) and MaxBytesPerBox (default 1 MiB)
	// bound each (room, mailbox id); MaxMessageBytes (default 48 KiB) one
	// message; MaxBoxes (default 10000) the mailboxes holding mail;
	// MaxTotalBytes (default 256 MiB) the stream as JetStream counts it
	// (blobs plus about 100 bytes of subject and headers per message).
	MaxMessagesPerBox int
	MaxBytesPerBox    int
	MaxMessageBytes   int
	MaxBoxes          int
	MaxTotalBytes     int
	// Now is the clock Take checks the TTL with (default time.Now).
	Now func() time.Time
	// Logger receives debug logs; nothing it logs holds message bytes.
	// Nil: discard.
	Logger *slog.Logger
}

func (o *MailOptions) withDefaults() MailOptions {
	var v MailOptions
	if o != nil {
		v = *o
	}
	def := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	def(&v.Replicas, 1)
	def(&v.MaxMessagesPerBox, DefaultMaxMessagesPerBox)
	def(&v.MaxBytesPerBox, DefaultMaxBytesPerBox)
	def(&v.MaxMessageBytes, DefaultMaxMessageBytes)
	def(&v.MaxBoxes, DefaultMaxBoxes)
	def(&v.MaxTotalBytes, DefaultMaxTotalBytes)
	if v.Prefix == "" {
		v.Prefix = "vtpeer"
	}
	if v.TTL == 0 {
		v.TTL = DefaultMailTTL
	}
	if v.Now == nil {
		v.Now = time.Now
	}
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	return v
}

func (o *MailOptions) validate() error {
	switch {
	case !validToken(o.Prefix):
		return fmt.Errorf("%w: Prefix must be [A-Za-z0-9_-]", ErrBadOptions)
	case o.Replicas < 1 || o.Replicas > 5:
		return fmt.Errorf("%w: Replicas must be 1 to 5", ErrBadOptions)
	case o.TTL < time.Second:
		return fmt.Errorf("%w: TTL must be at least 1s", ErrBadOptions)
	case o.MaxMessagesPerBox < 1 || o.MaxBytesPerBox < 1 || o.MaxMessageBytes < 1 || o.MaxBoxes < 1 || o.MaxTotalBytes < 1:
		return fmt.Errorf("%w: mail limits must be positive", ErrBadOptions)
	}
	return nil
}

// MailStore is the signal.MailStore in JetStream: the sealed mail of every
// node of a cluster in one stream, so that mail deposited on one node is
// handed over by any other, and survives a node with Replicas ≥ 3.
//
// Stream "<prefix>-mail", file storage, subjects "<prefix>.mail.<first 16
// bytes of SHA-256(room) in hex>.<mailbox id>", one per mailbox, MaxAge the
// TTL. A deposit is a publish that expects the mailbox's last sequence it
// read (compare-and-set), so the per-mailbox caps hold over all nodes; the
// mailbox count and the total are checked against the stream's state, so
// concurrent deposits on several nodes may pass them by a few messages.
type MailStore struct {
	opts MailOptions
	js   jetstream.JetStream
	st   jetstream.Stream
	name string
}

var _ signal.MailStore = (*MailStore)(nil)

// NewMailStore creates (or opens) the mail stream on the JetStream nc
// reaches, waiting for JetStream until ctx ends. The caller keeps nc.
func NewMailStore(ctx context.Context, nc *nats.Conn, opts *MailOptions) (*MailStore, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	cfg := jetstream.StreamConfig{
		Name:        o.Prefix + "-mail",
		Description: "vtpeer sealed mail for absent peers",
		Subjects:    []string{o.Prefix + ".mail.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      o.TTL,
		// A backstop behind the checks of Put: the stream refuses, never
		// drops, what exceeds it.
		MaxBytes:   2 * int64(o.MaxTotalBytes),
		Discard:    jetstream.DiscardNew,
		MaxMsgSize: int32(o.MaxMessageBytes + 1024),
	}
	var st jetstream.Stream
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err = js.CreateOrUpdateStream(actx, cfg)
		cancel()
		if err == nil {
			break
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("create stream %s: %w (last: %v)", cfg.Name, context.Cause(ctx), err)
		case <-t.C:
		}
	}
	return &MailStore{opts: o, js: js, st: st, name: cfg.Name}, nil
}

// subject is the mailbox's subject, after checking its names.
func (m *MailStore) subject(room, mailboxID string) (string, error) {
	if room == "" || len(room) > maxMailRoomLen || !utf8.ValidString(room) {
		return "", ErrBadMailRoom
	}
	if len(mailboxID) != 32 {
		return "", ErrBadMailboxID
	}
	for _, c := range mailboxID {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", ErrBadMailboxID
		}
	}
	h := sha256.Sum256([]byte(room))
	return m.opts.Prefix + ".mail." + hex.EncodeToString(h[:16]) + "." + mailboxID, nil
}

// tally reads a message's hdrTally.
func tally(msg *jetstream.RawStreamMsg) (n, b int, err error) {
	if _, err := fmt.Sscanf(msg.Header.Get(hdrTally), "%d %d", &n, &b); err != nil || n < 1 || b < len(msg.Data) {
		return 0, 0, fmt.Errorf("%w: mail message %d has no tally", signal.ErrUnavailable, msg.Sequence)
	}
	return n, b, nil
}

// Put implements signal.MailStore: it stores blob for mailboxID in room,
// or fails with ErrMailEmpty, ErrMailTooBig, ErrMailboxFull,
// ErrMailboxBytes, ErrTooManyBoxes, ErrMailStoreFull, ErrBadMailRoom,
// ErrBadMailboxID, or an error wrapping signal.ErrUnavailable when
// JetStream does not answer.
func (m *MailStore) Put(room, mailboxID string, blob []byte) error {
	subj, err := m.subject(room, mailboxID)
	if err != nil {
		return err
	}
	switch {
	case len(blob) == 0:
		return ErrMailEmpty
	case len(blob) > m.opts.MaxMessageBytes:
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrMailTooBig, len(blob), m.opts.MaxMessageBytes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), mailTimeout)
	defer cancel()
	for range maxCASAttempts {
		info, err := m.st.Info(ctx)
		if err != nil {
			return fmt.Errorf("%w: mail stream: %v", signal.ErrUnavailable, err)
		}
		if int(info.State.Bytes)+len(blob) > m.opts.MaxTotalBytes {
			return fmt.Errorf("%w (%d + %d bytes exceeds %d)", ErrMailStoreFull, info.State.Bytes, len(blob), m.opts.MaxTotalBytes)
		}
		var lastSeq uint64
		var n, size, tn, tb int // in the mailbox now; the last tallies
		last, err := m.st.GetLastMsgForSubject(ctx, subj)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			if int(info.State.NumSubjects) >= m.opts.MaxBoxes {
				return fmt.Errorf("%w (%d)", ErrTooManyBoxes, m.opts.MaxBoxes)
			}
		case err != nil:
			return fmt.Errorf("%w: read mailbox: %v", signal.ErrUnavailable, err)
		default:
			first, err := m.st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subj))
			if err != nil {
				continue // taken or expired meanwhile: read again
			}
			fn, fb, err := tally(first)
			if err != nil {
				return err
			}
			if tn, tb, err = tally(last); err != nil {
				return err
			}
			lastSeq = last.Sequence
			n, size = tn-fn+1, tb-fb+len(first.Data)
		}
		switch {
		case n >= m.opts.MaxMessagesPerBox:
			return fmt.Errorf("%w (%d messages)", ErrMailboxFull, n)
		case size+len(blob) > m.opts.MaxBytesPerBox:
			return fmt.Errorf("%w (%d + %d bytes exceeds %d)", ErrMailboxBytes, size, len(blob), m.opts.MaxBytesPerBox)
		}
		msg := nats.NewMsg(subj)
		msg.Data = blob
		msg.Header.Set(hdrTally, fmt.Sprintf("%d %d", tn+1, tb+len(blob)))
		_, err = m.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(m.name), jetstream.WithExpectLastSequencePerSubject(lastSeq))
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant):
			continue // another deposit came first: read again
		default:
			return fmt.Errorf("%w: deposit mail: %v", signal.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("%w: mailbox changes too fast", signal.ErrUnavailable)
}

// Take implements signal.MailStore: the mailbox's unexpired messages in
// arrival order, deleted (purged up to the last one read: a deposit that
// came meanwhile stays) before it returns. When the purge fails it returns
// the error and no message: the mail stays for a later join.
func (m *MailStore) Take(room, mailboxID string) ([][]byte, error) {
	subj, err := m.subject(room, mailboxID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), mailTimeout)
	defer cancel()
	var out [][]byte
	var lastSeq uint64
	cutoff := m.opts.Now().Add(-m.opts.TTL)
	for range 2*m.opts.MaxMessagesPerBox + 1 {
		msg, err := m.st.GetMsg(ctx, lastSeq+1, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: read mailbox: %v", signal.ErrUnavailable, err)
		}
		if msg.Time.After(cutoff) {
			out = append(out, msg.Data)
		}
		lastSeq = msg.Sequence
	}
	if lastSeq == 0 {
		return nil, nil
	}
	if err := m.st.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(lastSeq+1)); err != nil {
		return nil, fmt.Errorf("%w: empty mailbox: %v", signal.ErrUnavailable, err)
	}
	m.opts.Logger.Debug("mail handed over", "messages", len(out))
	return out, nil
}
