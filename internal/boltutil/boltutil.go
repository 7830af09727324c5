package boltutil

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Open opens or creates the bbolt file at path (0600; its directory is
// created 0700), waiting up to lockTimeout for another process's lock, then
// failing with ErrLocked. buckets are created if missing.
func Open(path string, lockTimeout time.Duration, buckets ...[]byte) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w (%s)", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := CreateBuckets(db, buckets...); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// CreateBuckets creates the top-level buckets that do not exist yet, in one
// transaction.
func CreateBuckets(db *bolt.DB, buckets ...[]byte) error {
	if len(buckets) == 0 {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// Update runs fn in a read-write transaction; on a closed file it returns
// closed (the caller's sentinel) instead of bbolt's error.
func Update(db *bolt.DB, closed error, fn func(*bolt.Tx) error) error {
	err := db.Update(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return closed
	}
	return err
}

// View runs fn in a read-only transaction; on a closed file it returns
// closed instead of bbolt's error.
func View(db *bolt.DB, closed error, fn func(*bolt.Tx) error) error {
	err := db.View(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return closed
	}
	return err
}

// StampLen is the length of a time stamp value: Unix nanoseconds, 8 bytes
// big-endian.
const StampLen = 8

// Stamp encodes t as a time stamp value.
func Stamp(t time.Time) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())) }

// StampOf decodes a time stamp value; ok is false when v is not one.
func StampOf(v []byte) (t time.Time, ok bool) {
	if len(v) != StampLen {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), true
}

// PruneBefore deletes, within tx, the keys of bucket b whose time stamp is
// before cutoff and returns how many it deleted. withBad also deletes the
// keys whose value is not a time stamp (a damaged record is then forgotten
// rather than kept for ever).
func PruneBefore(b *bolt.Bucket, cutoff time.Time, withBad bool) (int, error) {
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		t, ok := StampOf(v)
		if (ok && t.Before(cutoff)) || (!ok && withBad) {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(old), nil
}
