package mailbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/verytippers/vtpeer/internal/boltutil"
	"github.com/verytippers/vtpeer/pkg/seal"
)

// bucketBoxes holds one nested bucket per mailbox, named
// u16be(len(room)) || room || mailboxID. Inside, the key is u64be(arrival
// sequence) and the value u64be(stored at, Unix ns) || message.
var bucketBoxes = []byte("vtpeer.mailbox.boxes")

const stampLen = 8

// Box is the signaling server's store of offline mail: opaque blobs per
// (room, mailbox id), bounded and expiring. It is safe for concurrent use.
// One process at a time may open the file.
type Box struct {
	db   *bolt.DB
	opts Options
	m    *metrics

	mu     sync.Mutex // serializes writes with the totals below
	totals Stats
}

// Stats are the Box's current totals.
type Stats struct {
	Boxes    int // non-empty mailboxes
	Messages int // stored messages, including expired ones not yet pruned
	Bytes    int // their total size
}

// delta is the change a committed write makes to the totals.
type delta struct {
	Stats
	expired int
}

// Open opens or creates the mailbox file at path (0600; parent directory
// created 0700). The file survives restarts: messages are kept until
// taken or expired.
func Open(path string, opts *Options) (*Box, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	db, err := openDB(path, o.LockTimeout)
	if err != nil {
		return nil, err
	}
	b := &Box{db: db, opts: o, m: m}
	err = db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists(bucketBoxes)
		if err != nil {
			return err
		}
		return top.ForEachBucket(func(k []byte) error {
			b.totals.Boxes++
			return top.Bucket(k).ForEach(func(_, v []byte) error {
				b.totals.Messages++
				b.totals.Bytes += len(v) - stampLen
				return nil
			})
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("mailbox: open %s: %w", path, err)
	}
	b.apply(delta{})
	return b, nil
}

// openDB opens a bbolt file, creating its directory.
func openDB(path string, lockTimeout time.Duration) (*bolt.DB, error) {
	db, err := boltutil.Open(path, lockTimeout)
	if errors.Is(err, boltutil.ErrLocked) {
		return nil, fmt.Errorf("%w (%s)", ErrInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	return db, nil
}

// Close closes the file. Later calls fail with ErrClosed.
func (b *Box) Close() error { return b.db.Close() }

// Stats returns the current totals.
func (b *Box) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.totals
}

func checkBox(room, mailboxID string) error {
	if room == "" || len(room) > MaxRoomLen || !utf8.ValidString(room) {
		return ErrBadRoom
	}
	if !seal.ValidMailboxID(mailboxID) {
		return ErrBadMailboxID
	}
	return nil
}

func boxKey(room, mailboxID string) []byte {
	k := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(room)+len(mailboxID)), uint16(len(room)))
	return append(append(k, room...), mailboxID...)
}

// Put stores blob (opaque, normally a seal.SealMail blob) for mailboxID in
// room. It fails with ErrEmpty, ErrTooBig, ErrMailboxFull, ErrMailboxBytes,
// ErrTooManyBoxes or ErrStoreFull (the store as a whole is at
// MaxTotalBytes) when a limit is reached (expired messages do not count),
// and with ErrBadRoom or ErrBadMailboxID for bad names.
func (b *Box) Put(room, mailboxID string, blob []byte) (err error) {
	defer func() {
		if err != nil && !errors.Is(err, ErrClosed) {
			b.m.rejected.WithLabelValues(rejectReason(err)).Inc()
		}
	}()
	if err := checkBox(room, mailboxID); err != nil {
		return err
	}
	switch {
	case len(blob) == 0:
		return ErrEmpty
	case len(blob) > b.opts.MaxMessageBytes:
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrTooBig, len(blob), b.opts.MaxMessageBytes)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.opts.Now()
	var d delta
	err = b.update(func(tx *bolt.Tx) error {
		d = delta{}
		top := tx.Bucket(bucketBoxes)
		pruned := false
		if b.totals.Bytes+len(blob) > b.opts.MaxTotalBytes {
			if err := b.pruneTx(top, now, &d); err != nil {
				return err
			}
			pruned = true
			if b.totals.Bytes+d.Bytes+len(blob) > b.opts.MaxTotalBytes {
				return fmt.Errorf("%w (%d + %d bytes exceeds %d)", ErrStoreFull, b.totals.Bytes+d.Bytes, len(blob), b.opts.MaxTotalBytes)
			}
		}
		key := boxKey(room, mailboxID)
		mb := top.Bucket(key)
		if mb == nil {
			if b.totals.Boxes+d.Boxes >= b.opts.MaxBoxes {
				if !pruned {
					if err := b.pruneTx(top, now, &d); err != nil {
						return err
					}
				}
				if b.totals.Boxes+d.Boxes >= b.opts.MaxBoxes {
					return fmt.Errorf("%w (%d)", ErrTooManyBoxes, b.opts.MaxBoxes)
				}
			}
			var err error
			if mb, err = top.CreateBucket(key); err != nil {
				return err
			}
			d.Boxes++
		} else if err := b.expire(mb, now, &d); err != nil {
			return err
		}
		n, size := 0, 0
		if err := mb.ForEach(func(_, v []byte) error { n++; size += len(v) - stampLen; return nil }); err != nil {
			return err
		}
		switch {
		case n >= b.opts.MaxMessagesPerBox:
			return fmt.Errorf("%w (%d messages)", ErrMailboxFull, n)
		case size+len(blob) > b.opts.MaxBytesPerBox:
			return fmt.Errorf("%w (%d + %d bytes exceeds %d)", ErrMailboxBytes, size, len(blob), b.opts.MaxBytesPerBox)
		}
		seq, err := mb.NextSequence()
		if err != nil {
			return err
		}
		v := binary.BigEndian.AppendUint64(make([]byte, 0, stampLen+len(blob)), uint64(now.UnixNano()))
		d.Messages++
		d.Bytes += len(blob)
		return mb.Put(binary.BigEndian.AppendUint64(nil, seq), append(v, blob...))
	})
	if err != nil {
		return err
	}
	b.apply(d)
	return nil
}

// Take returns the unexpired messages of mailboxID in room, in arrival
// order, and deletes the mailbox. It returns no messages and no error for
// an empty or unknown mailbox. Deletion is committed before Take returns:
// a caller that then fails to deliver may Put the messages back.
func (b *Box) Take(room, mailboxID string) ([][]byte, error) {
	if err := checkBox(room, mailboxID); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cutoff := b.opts.Now().Add(-b.opts.TTL).UnixNano()
	var (
		out [][]byte
		d   delta
	)
	err := b.update(func(tx *bolt.Tx) error {
		out, d = nil, delta{}
		top := tx.Bucket(bucketBoxes)
		key := boxKey(room, mailboxID)
		mb := top.Bucket(key)
		if mb == nil {
			return nil
		}
		err := mb.ForEach(func(_, v []byte) error {
			d.Messages--
			d.Bytes -= len(v) - stampLen
			if expired(v, cutoff) {
				d.expired++
			} else {
				out = append(out, append([]byte(nil), v[stampLen:]...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		d.Boxes--
		return top.DeleteBucket(key)
	})
	if err != nil {
		return nil, err
	}
	b.apply(d)
	return out, nil
}

// Prune deletes every expired message (and mailboxes left empty) and
// returns how many messages it deleted. Call it periodically; Put and Take
// also drop the expired messages of the mailbox they touch.
func (b *Box) Prune() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.opts.Now()
	var d delta
	err := b.update(func(tx *bolt.Tx) error {
		d = delta{}
		return b.pruneTx(tx.Bucket(bucketBoxes), now, &d)
	})
	if err != nil {
		return 0, err
	}
	b.apply(d)
	if d.expired > 0 {
		b.opts.Logger.Debug("pruned expired mail", "messages", d.expired)
	}
	return d.expired, nil
}

// pruneTx expires messages in every mailbox and deletes the empty ones.
func (b *Box) pruneTx(top *bolt.Bucket, now time.Time, d *delta) error {
	var empty [][]byte
	err := top.ForEachBucket(func(k []byte) error {
		mb := top.Bucket(k)
		if err := b.expire(mb, now, d); err != nil {
			return err
		}
		if first, _ := mb.Cursor().First(); first == nil {
			empty = append(empty, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range empty {
		if err := top.DeleteBucket(k); err != nil {
			return err
		}
		d.Boxes--
	}
	return nil
}

// expire deletes the expired messages at the head of mb. Messages are
// stored in arrival order, so it stops at the first live one; with a clock
// that went backwards a later one may outlive its TTL until Take, which
// checks every message.
func (b *Box) expire(mb *bolt.Bucket, now time.Time, d *delta) error {
	cutoff := now.Add(-b.opts.TTL).UnixNano()
	var old [][]byte
	c := mb.Cursor()
	for k, v := c.First(); k != nil && expired(v, cutoff); k, v = c.Next() {
		old = append(old, append([]byte(nil), k...))
		d.Messages--
		d.Bytes -= len(v) - stampLen
		d.expired++
	}
	for _, k := range old {
		if err := mb.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// expired reports whether a stored value was stored at or before cutoff.
func expired(v []byte, cutoff int64) bool {
	return len(v) < stampLen || int64(binary.BigEndian.Uint64(v)) <= cutoff
}

func (b *Box) update(fn func(*bolt.Tx) error) error { return boltutil.Update(b.db, ErrClosed, fn) }

// apply adds a committed delta to the totals and the metrics; b.mu held
// (or the Box not yet shared).
func (b *Box) apply(d delta) {
	b.totals.Boxes += d.Boxes
	b.totals.Messages += d.Messages
	b.totals.Bytes += d.Bytes
	b.m.boxes.Set(float64(b.totals.Boxes))
	b.m.messages.Set(float64(b.totals.Messages))
	b.m.bytes.Set(float64(b.totals.Bytes))
	if d.expired > 0 {
		b.m.expired.Add(float64(d.expired))
	}
}
