package boltutil

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// SeenSet is a persistent set of ids, each stamped with the time it was
// marked, in one bucket of a bbolt file: exactly-once delivery and replay
// refusal across restarts, with old ids forgotten by Prune. It is safe for
// concurrent use.
type SeenSet struct {
	db     *bolt.DB
	bucket []byte
	closed error
}

// NewSeenSet uses bucket of db (created if missing); closed is the error its
// methods return once db is closed.
func NewSeenSet(db *bolt.DB, bucket []byte, closed error) (*SeenSet, error) {
	if err := CreateBuckets(db, bucket); err != nil {
		return nil, err
	}
	return &SeenSet{db: db, bucket: bucket, closed: closed}, nil
}

// Seen reports whether id is in the set.
func (s *SeenSet) Seen(id []byte) (bool, error) {
	var seen bool
	err := View(s.db, s.closed, func(tx *bolt.Tx) error {
		seen = tx.Bucket(s.bucket).Get(id) != nil
		return nil
	})
	return seen, err
}

// Mark adds id, stamped at, and reports whether it was new. The test and
// the set are one transaction: of two marks of the same id exactly one gets
// true.
func (s *SeenSet) Mark(id []byte, at time.Time) (bool, error) {
	var fresh bool
	err := Update(s.db, s.closed, func(tx *bolt.Tx) error {
		var err error
		fresh, err = MarkTx(tx.Bucket(s.bucket), id, at)
		return err
	})
	return fresh && err == nil, err
}

// MarkTx is Mark within a transaction the caller runs (so that marking and
// another write commit together, or neither does).
func MarkTx(b *bolt.Bucket, id []byte, at time.Time) (bool, error) {
	if b.Get(id) != nil {
		return false, nil
	}
	return true, b.Put(id, Stamp(at))
}

// Prune forgets the ids marked before cutoff (and damaged entries) and
// returns how many.
func (s *SeenSet) Prune(cutoff time.Time) (int, error) {
	n := 0
	err := Update(s.db, s.closed, func(tx *bolt.Tx) error {
		var err error
		n, err = PruneBefore(tx.Bucket(s.bucket), cutoff, true)
		return err
	})
	return n, err
}
