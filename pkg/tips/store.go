package tips

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/common"
	bolt "go.etcd.io/bbolt"

	"github.com/verytippers/vtpeer/internal/boltutil"
)

// DefaultLockTimeout is how long OpenStore waits for another process to
// release the store file.
const DefaultLockTimeout = time.Second

var (
	bucketSeen = []byte("seen") // messageHash → accepted at (unix ns, 8 bytes)
	// bucketForward is the forward queue: messageHash → forwardEntry JSON. Its
	// name on disk is "outbox" (files written before the forward queue had
	// its own name); in vtpeer "outbox" means mailbox.Outbox only.
	bucketForward = []byte("outbox")
)

// StoreOptions configure OpenStore. A nil *StoreOptions uses the defaults.
type StoreOptions struct {
	// LockTimeout bounds the wait for the file lock held by another process
	// (0 = DefaultLockTimeout). After it OpenStore fails with ErrStoreInUse.
	LockTimeout time.Duration
	// Logger receives debug logs (nil = discard).
	Logger *slog.Logger
}

func (o *StoreOptions) validate() error {
	if o.LockTimeout < 0 {
		return fmt.Errorf("tips: store options: negative LockTimeout")
	}
	return nil
}

// Store is the receiver's persistent state in one bbolt file: the hashes of
// accepted tips (replay protection that survives restarts) and the
// forwarder's queue. One process at a time may open it. It is safe for
// concurrent use.
type Store struct {
	db  *bolt.DB
	log *slog.Logger
}

// OpenStore opens or creates the store file at path (0600, parent directory
// created 0700).
func OpenStore(path string, opts *StoreOptions) (*Store, error) {
	var o StoreOptions
	if opts != nil {
		o = *opts
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := boltutil.Open(path, o.LockTimeout, bucketSeen, bucketForward)
	if errors.Is(err, boltutil.ErrLocked) {
		return nil, fmt.Errorf("%w (%s)", ErrStoreInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("tips: %w", err)
	}
	return &Store{db: db, log: o.Logger}, nil
}

// Close closes the file. Methods called afterwards fail with ErrStoreClosed.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) update(fn func(*bolt.Tx) error) error {
	return boltutil.Update(s.db, ErrStoreClosed, fn)
}

func (s *Store) view(fn func(*bolt.Tx) error) error { return boltutil.View(s.db, ErrStoreClosed, fn) }

// Record stores hash as accepted at the given time, atomically refusing one
// already recorded with ErrReplay. Call it after Verify succeeds and before
// acting on the tip. A receiver that forwards uses Forwarder.Accept instead,
// which records and queues the forward in one transaction.
func (s *Store) Record(hash common.Hash, at time.Time) error {
	return s.accept(hash, at, nil)
}

// accept records hash as accepted at the given time and, when forward is not
// nil, adds it to the forward queue as a queued entry with that body (unless
// the queue already holds hash), all in one transaction: on any error, including
// ErrReplay and a failed write, nothing was recorded or queued.
func (s *Store) accept(hash common.Hash, at time.Time, forward []byte) error {
	return s.update(func(tx *bolt.Tx) error {
		fresh, err := boltutil.MarkTx(tx.Bucket(bucketSeen), hash[:], at)
		if err != nil {
			return err
		}
		if !fresh {
			return fmt.Errorf("%w %s", ErrReplay, hash.Hex())
		}
		if forward == nil {
			return nil
		}
		return putForwardTx(tx, hash, forward, at)
	})
}

// Seen reports whether hash was recorded.
func (s *Store) Seen(hash common.Hash) (bool, error) {
	var seen bool
	err := s.view(func(tx *bolt.Tx) error {
		seen = tx.Bucket(bucketSeen).Get(hash[:]) != nil
		return nil
	})
	return seen, err
}

// Prune deletes the replay records made before olderThan and returns how many
// it deleted. Pass now minus the verifier's MaxAge: a tip whose nonce signs
// its timestamp cannot verify after MaxAge anyway. A tip from another client
// (no signed timestamp) is accepted again once its record is pruned, so keep
// the window generous when such clients are expected. Forward queue
// entries are never pruned.
func (s *Store) Prune(olderThan time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		n, err = boltutil.PruneBefore(tx.Bucket(bucketSeen), olderThan, false)
		return err
	})
	if n > 0 {
		s.log.Debug("pruned replay records", "count", n)
	}
	return n, err
}
