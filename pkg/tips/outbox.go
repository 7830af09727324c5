package tips

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	bolt "go.etcd.io/bbolt"
)

// Forward states of an outbox entry.
const (
	ForwardQueued    = "queued"    // waiting for (another) attempt
	ForwardDelivered = "forwarded" // acknowledged with a 2xx: never sent again
	ForwardFailed    = "failed"    // refused with a permanent 4xx: not retried
)

// outboxEntry is one tip in the forwarder's outbox.
type outboxEntry struct {
	Body      json.RawMessage `json:"body"`
	State     string          `json:"state"`
	Attempts  int             `json:"attempts"`
	NextAt    time.Time       `json:"nextAt"`
	LastError string          `json:"lastError,omitempty"`
	DoneAt    time.Time       `json:"doneAt,omitzero"`
}

// putOutbox adds a queued entry unless hash is already in the outbox (in any
// state); it reports whether it added one.
func (s *Store) putOutbox(hash common.Hash, body []byte, now time.Time) (bool, error) {
	added := false
	err := s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketOutbox).Get(hash[:]) != nil {
			return nil
		}
		added = true
		return putOutboxTx(tx, hash, body, now)
	})
	return added, err
}

// putOutboxTx adds a queued entry within tx unless hash is already in the
// outbox.
func putOutboxTx(tx *bolt.Tx, hash common.Hash, body []byte, now time.Time) error {
	b := tx.Bucket(bucketOutbox)
	if b.Get(hash[:]) != nil {
		return nil
	}
	v, err := json.Marshal(outboxEntry{Body: body, State: ForwardQueued, NextAt: now})
	if err != nil {
		return err
	}
	return b.Put(hash[:], v)
}

// queuedOutbox returns the queued entries by hash.
func (s *Store) queuedOutbox() (map[common.Hash]outboxEntry, error) {
	out := map[common.Hash]outboxEntry{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			var e outboxEntry
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

// setOutbox overwrites the entry of hash.
func (s *Store) setOutbox(hash common.Hash, e outboxEntry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketOutbox).Put(hash[:], v) })
}

// ForwardStatus returns the forward state of hash (ForwardQueued,
// ForwardDelivered, ForwardFailed) with the last error, or "" when the hash is
// not in the outbox.
func (s *Store) ForwardStatus(hash common.Hash) (state, lastError string, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketOutbox).Get(hash[:])
		if v == nil {
			return nil
		}
		var e outboxEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("tips: outbox entry %s: %w", hash.Hex(), err)
		}
		state, lastError = e.State, e.LastError
		return nil
	})
	return state, lastError, err
}
