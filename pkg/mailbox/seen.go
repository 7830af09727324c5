package mailbox

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxSeenIDLen bounds a seen id: room for "<from>/<message id>".
const MaxSeenIDLen = 200

// Seen reports whether id was marked seen (and not pruned since).
func (o *Outbox) Seen(id string) (bool, error) {
	if !printable(id, MaxSeenIDLen) {
		return false, ErrBadID
	}
	var seen bool
	err := o.view(func(tx *bolt.Tx) error {
		seen = tx.Bucket(bucketSeen).Get([]byte(id)) != nil
		return nil
	})
	return seen, err
}

// MarkSeen records id (1..MaxSeenIDLen bytes of printable ASCII) as seen at
// the given time and reports whether it is new. The test and the set are
// one transaction, so of two deliveries of the same message exactly one
// gets true: hand the message to the application only then. Namespace ids
// by sender ("<from>/<id>") unless they are globally unique.
func (o *Outbox) MarkSeen(id string, at time.Time) (bool, error) {
	if !printable(id, MaxSeenIDLen) {
		return false, ErrBadID
	}
	fresh := false
	err := o.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSeen)
		if b.Get([]byte(id)) != nil {
			return nil
		}
		fresh = true
		return b.Put([]byte(id), binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano())))
	})
	return fresh, err
}

// PruneSeen forgets the ids marked before cutoff and returns how many. A
// message resent after its id is pruned is delivered again, so keep ids
// longer than any sender retries (and than the server mailbox's TTL).
func (o *Outbox) PruneSeen(cutoff time.Time) (int, error) {
	n := 0
	err := o.update(func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket(bucketSeen)
		var old [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < cutoff.UnixNano() {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if n > 0 {
		o.opts.Logger.Debug("pruned seen ids", "count", n)
	}
	return n, err
}
