package mailbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/verytippers/vtpeer/internal/boltutil"
)

// Defaults for OutboxOptions.
const (
	DefaultMaxItems     = 1000
	DefaultMaxItemBytes = 1 << 20
)

// Bucket names are prefixed so that an Outbox can share a bbolt file with
// other stores (pkg/tips uses "seen" and "outbox").
var (
	// One nested bucket per recipient; inside, 'q' || u64be(seq) → item
	// JSON and 'i' || id → u64be(seq).
	bucketOutbox = []byte("vtpeer.mailbox.outbox")
	// Seen message ids → u64be(marked at, Unix ns).
	bucketSeen = []byte("vtpeer.mailbox.seen")
)

// OutboxOptions configure OpenOutbox and NewOutbox. A nil pointer or a zero
// field uses the default.
type OutboxOptions struct {
	// MaxItems bounds the pending items per recipient (default 1000); Add
	// fails with ErrOutboxFull beyond it.
	MaxItems int
	// MaxItemBytes bounds one item's Body (default 1 MiB); Add fails with
	// ErrTooBig beyond it.
	MaxItemBytes int
	// LockTimeout bounds OpenOutbox's wait for another process's file lock
	// (default 1 s), then ErrInUse.
	LockTimeout time.Duration
	// Now stamps Item.Added (default time.Now).
	Now func() time.Time
	// Logger receives debug logs (nil = discard); it never sees bodies.
	Logger *slog.Logger
}

func (o *OutboxOptions) validate() error {
	if o.MaxItems < 0 || o.MaxItemBytes < 0 || o.LockTimeout < 0 {
		return fmt.Errorf("%w: negative limit", ErrBadOptions)
	}
	return nil
}

// Item is one message waiting in the outbox.
type Item struct {
	// ID is the sender-chosen unique message id, 1..64 bytes of
	// [A-Za-z0-9_-] (use 128 random bits); the receiver deduplicates on it.
	ID string `json:"id"`
	// Kind is the application message kind ("chat", "tip"), 1..64 bytes of
	// printable ASCII.
	Kind string `json:"kind"`
	// Body is the application message.
	Body []byte `json:"body"`
	// Added is set by Add.
	Added time.Time `json:"added"`
}

// Outbox is a peer's persistent store for offline delivery: the sender's
// queue of items per recipient, and the receiver's seen-id set (seen.go).
// It is safe for concurrent use.
type Outbox struct {
	db   *bolt.DB
	own  bool
	opts OutboxOptions
	seen *boltutil.SeenSet
}

// OpenOutbox opens or creates its own bbolt file at path (0600, parent
// directory 0700); Close closes it.
func OpenOutbox(path string, opts *OutboxOptions) (*Outbox, error) {
	var o OutboxOptions
	if opts != nil {
		o = *opts
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	db, err := openDB(path, o.LockTimeout)
	if err != nil {
		return nil, err
	}
	ob, err := NewOutbox(db, &o)
	if err != nil {
		db.Close()
		return nil, err
	}
	ob.own = true
	return ob, nil
}

// NewOutbox uses an already open bbolt file shared with other stores; the
// caller keeps owning db, and Close leaves it open.
func NewOutbox(db *bolt.DB, opts *OutboxOptions) (*Outbox, error) {
	var o OutboxOptions
	if opts != nil {
		o = *opts
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, fmt.Errorf("%w: nil db", ErrBadOptions)
	}
	if o.MaxItems == 0 {
		o.MaxItems = DefaultMaxItems
	}
	if o.MaxItemBytes == 0 {
		o.MaxItemBytes = DefaultMaxItemBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := boltutil.CreateBuckets(db, bucketOutbox); err != nil {
		return nil, fmt.Errorf("mailbox: outbox: %w", err)
	}
	seen, err := boltutil.NewSeenSet(db, bucketSeen, ErrClosed)
	if err != nil {
		return nil, fmt.Errorf("mailbox: outbox: %w", err)
	}
	return &Outbox{db: db, opts: o, seen: seen}, nil
}

// Close closes the file if OpenOutbox opened it; with NewOutbox it does
// nothing.
func (o *Outbox) Close() error {
	if o.own {
		return o.db.Close()
	}
	return nil
}

// validID: 1..64 bytes of [A-Za-z0-9_-] (seal.MailContent's ID rule).
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// printable reports whether s is 1..n bytes of printable ASCII.
func printable(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func checkRecipient(r string) error {
	if !printable(r, 128) {
		return ErrBadRecipient
	}
	return nil
}

// Add queues it for recipient (an account address or a mailbox id, 1..128
// bytes of printable ASCII) after the items already queued. It sets Added
// and fails with ErrDuplicate if it.ID is already queued for recipient,
// ErrOutboxFull or ErrTooBig at a limit.
func (o *Outbox) Add(recipient string, it Item) error {
	if err := checkRecipient(recipient); err != nil {
		return err
	}
	if !validID(it.ID) {
		return ErrBadID
	}
	if !printable(it.Kind, 64) {
		return ErrBadKind
	}
	if len(it.Body) > o.opts.MaxItemBytes {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrTooBig, len(it.Body), o.opts.MaxItemBytes)
	}
	it.Added = o.opts.Now().UTC()
	v, err := json.Marshal(it)
	if err != nil {
		return err
	}
	return o.update(func(tx *bolt.Tx) error {
		rb, err := tx.Bucket(bucketOutbox).CreateBucketIfNotExists([]byte(recipient))
		if err != nil {
			return err
		}
		if rb.Get(idKey(it.ID)) != nil {
			return fmt.Errorf("%w %q", ErrDuplicate, it.ID)
		}
		if n := countPrefix(rb, 'q'); n >= o.opts.MaxItems {
			return fmt.Errorf("%w (%d items)", ErrOutboxFull, n)
		}
		seq, err := rb.NextSequence()
		if err != nil {
			return err
		}
		s := binary.BigEndian.AppendUint64(nil, seq)
		if err := rb.Put(idKey(it.ID), s); err != nil {
			return err
		}
		return rb.Put(append([]byte{'q'}, s...), v)
	})
}

// countPrefix counts the keys of b that start with p.
func countPrefix(b *bolt.Bucket, p byte) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek([]byte{p}); k != nil && k[0] == p; k, _ = c.Next() {
		n++
	}
	return n
}

func idKey(id string) []byte { return append([]byte{'i'}, id...) }

// Pending returns the items queued for recipient, in the order added.
func (o *Outbox) Pending(recipient string) ([]Item, error) {
	if err := checkRecipient(recipient); err != nil {
		return nil, err
	}
	var out []Item
	err := o.view(func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketOutbox).Bucket([]byte(recipient))
		if rb == nil {
			return nil
		}
		c := rb.Cursor()
		for k, v := c.Seek([]byte{'q'}); k != nil && k[0] == 'q'; k, v = c.Next() {
			var it Item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("mailbox: outbox item: %w", err)
			}
			out = append(out, it)
		}
		return nil
	})
	return out, err
}

// Done removes the item id from recipient's queue once the recipient
// confirmed it. Unknown ids are not an error, so a repeated ack is
// harmless.
func (o *Outbox) Done(recipient, id string) error {
	if err := checkRecipient(recipient); err != nil {
		return err
	}
	if !validID(id) {
		return ErrBadID
	}
	return o.update(func(tx *bolt.Tx) error {
		ob := tx.Bucket(bucketOutbox)
		rb := ob.Bucket([]byte(recipient))
		if rb == nil {
			return nil
		}
		s := rb.Get(idKey(id))
		if s == nil {
			return nil
		}
		if err := rb.Delete(append([]byte{'q'}, s...)); err != nil {
			return err
		}
		if err := rb.Delete(idKey(id)); err != nil {
			return err
		}
		if k, _ := rb.Cursor().First(); k == nil {
			return ob.DeleteBucket([]byte(recipient))
		}
		return nil
	})
}

// Recipients returns the recipients with pending items, in byte order.
func (o *Outbox) Recipients() ([]string, error) {
	var out []string
	err := o.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

func (o *Outbox) update(fn func(*bolt.Tx) error) error { return boltutil.Update(o.db, ErrClosed, fn) }

func (o *Outbox) view(fn func(*bolt.Tx) error) error { return boltutil.View(o.db, ErrClosed, fn) }
