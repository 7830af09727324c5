package app

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/verytippers/vtpeer/internal/boltutil"
	"github.com/verytippers/vtpeer/pkg/mailbox"
)

// The receiver's record of verified chunks: transfer id → (u32be file ||
// u64be chunk → the first 16 bytes of the chunk's SHA-256). A chunk enters
// the record only after its .part file was synced; on a new offer of the
// same id every recorded chunk is read back from the .part and hashed, and
// only those that match are reported as held (FileAnswer.Have).
type recordStore interface {
	chunks(id string, fn func(file uint32, chunk uint64, sum []byte)) error
	add(id string, entries []recEntry) error
	drop(id string) error
}

type recEntry struct {
	file  uint32
	chunk uint64
	sum   [16]byte
}

var bucketTransfers = []byte("vtpeer.transfers")

func recKey(file uint32, chunk uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(make([]byte, 0, 12), file), chunk)
}

// boltRecord keeps the record in the postbox (it survives a restart or a reboot).
type boltRecord struct{ db *bolt.DB }

func (b boltRecord) chunks(id string, fn func(uint32, uint64, []byte)) error {
	return boltutil.View(b.db, mailbox.ErrClosed, func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketTransfers)
		if top == nil {
			return nil
		}
		bk := top.Bucket([]byte(id))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error {
			if len(k) == 12 && len(v) == 16 {
				fn(binary.BigEndian.Uint32(k), binary.BigEndian.Uint64(k[4:]), v)
			}
			return nil
		})
	})
}

func (b boltRecord) add(id string, es []recEntry) error {
	err := boltutil.Update(b.db, mailbox.ErrClosed, func(tx *bolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists(bucketTransfers)
		if err != nil {
			return err
		}
		bk, err := top.CreateBucketIfNotExists([]byte(id))
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := bk.Put(recKey(e.file, e.chunk), e.sum[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record chunks: %w", err)
	}
	return nil
}

func (b boltRecord) drop(id string) error {
	return boltutil.Update(b.db, mailbox.ErrClosed, func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketTransfers)
		if top == nil || top.Bucket([]byte(id)) == nil {
			return nil
		}
		return top.DeleteBucket([]byte(id))
	})
}

// openRecordFile opens (or creates) dir/transfers.db for a Room without a
// postbox (FileOptions.RecordDir).
func openRecordFile(dir string) (*bolt.DB, error) {
	db, err := boltutil.Open(filepath.Join(dir, "transfers.db"), time.Second, bucketTransfers)
	if err != nil {
		return nil, fmt.Errorf("transfer record: %w", err)
	}
	return db, nil
}

// memRecord keeps the record in memory: a Room without a postbox resumes
// after a dropped link, not after a restart.
type memRecord struct {
	mu sync.Mutex
	m  map[string]map[[12]byte][16]byte
}

func (r *memRecord) chunks(id string, fn func(uint32, uint64, []byte)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range r.m[id] {
		fn(binary.BigEndian.Uint32(k[:]), binary.BigEndian.Uint64(k[4:]), v[:])
	}
	return nil
}

func (r *memRecord) add(id string, es []recEntry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]map[[12]byte][16]byte{}
	}
	if r.m[id] == nil {
		r.m[id] = map[[12]byte][16]byte{}
	}
	for _, e := range es {
		r.m[id][[12]byte(recKey(e.file, e.chunk))] = e.sum
	}
	return nil
}

func (r *memRecord) drop(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
	return nil
}
