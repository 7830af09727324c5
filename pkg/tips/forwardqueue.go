package tips

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	bolt "go.etcd.io/bbolt"
)

// Forward states of a forward queue entry.
const (
	ForwardQueued    = "queued"    // waiting for (another) attempt
	ForwardDelivered = "forwarded" // acknowledged with a 2xx: never sent again
	ForwardFailed    = "failed"    // refused with a permanent 4xx: not retried
)

// forwardEntry is one tip in the forward queue.
type forwardEntry struct {
	Body      json.RawMessage `json:"body"`
	State     string          `json:"state"`
	Attempts  int             `json:"attempts"`
	NextAt    time.Time       `json:"nextAt"`
	LastError string          `json:"lastError,omitempty"`
	DoneAt    time.Time       `json:"doneAt,omitzero"`
}

// putForward adds a queued entry unless hash is already in the queue (in any
// state); it reports whether it added one.
func (s *Store) putForward(hash common.Hash, body []byte, now time.Time) (bool, error) {
	added := false
	err := s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketForward).Get(hash[:]) != nil {
			return nil
		}
		added = true
		return putForwardTx(tx, hash, body, now)
	})
	return added, err
}

// putForwardTx adds a queued entry within tx unless hash is already in the
// queue.
func putForwardTx(tx *bolt.Tx, hash common.Hash, body []byte, now time.Time) error {
	b := tx.Bucket(bucketForward)
	if b.Get(hash[:]) != nil {
		return nil
	}
	v, err := json.Marshal(forwardEntry{Body: body, State: ForwardQueued, NextAt: now})
	if err != nil {
		return err
	}
	return b.Put(hash[:], v)
}

// queuedForwards returns the queued entries by hash.
func (s *Store) queuedForwards() (map[common.Hash]forwardEntry, error) {
	out := map[common.Hash]forwardEntry{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketForward).ForEach(func(k, v []byte) error {
			var e forwardEntry
			if len(k) != common.HashLength || json.Unmarshal(v, &e) != nil {
				return nil // unreadable entries are skipped, not fatal
			}
			if e.State == ForwardQueued {
				out[common.BytesToHash(k)] = e
			}
			return nil
		})
	})
	return out, err
}

// setForward overwrites the entry of hash.
func (s *Store) setForward(hash common.Hash, e forwardEntry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketForward).Put(hash[:], v) })
}

// ForwardStatus returns the forward state of hash (ForwardQueued,
// ForwardDelivered, ForwardFailed) with the last error, or "" when the hash is
// not in the forward queue.
func (s *Store) ForwardStatus(hash common.Hash) (state, lastError string, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketForward).Get(hash[:])
		if v == nil {
			return nil
		}
		var e forwardEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("tips: forward queue entry %s: %w", hash.Hex(), err)
		}
		state, lastError = e.State, e.LastError
		return nil
	})
	return state, lastError, err
}
