package boltutil

import (
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var errClosed = errors.New("test: closed")

func openTest(t *testing.T) (*bolt.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "x.db")
	db, err := Open(path, time.Second, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

// TestOpenLockedAndClosed: a second open of a locked file fails with
// ErrLocked after the timeout; a closed file gives the caller's sentinel.
func TestOpenLockedAndClosed(t *testing.T) {
	t.Parallel()
	db, path := openTest(t)
	if _, err := Open(path, 50*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if err := View(db, errClosed, func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("a")) == nil {
			return errors.New("bucket a not created")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if err := Update(db, errClosed, func(*bolt.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Fatalf("Update after close: %v", err)
	}
	if err := View(db, errClosed, func(*bolt.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Fatalf("View after close: %v", err)
	}
}

// TestPruneBefore: entries stamped before the cutoff go, later ones stay,
// damaged ones go only with withBad.
func TestPruneBefore(t *testing.T) {
	t.Parallel()
	base := time.Unix(1_700_000_000, 0)
	for _, tt := range []struct {
		name    string
		withBad bool
		want    int
		left    []string
	}{
		{"stamps only", false, 2, []string{"bad", "new", "now"}},
		{"and damaged", true, 3, []string{"new", "now"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, _ := openTest(t)
			err := Update(db, errClosed, func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("a"))
				for k, v := range map[string][]byte{
					"old1": Stamp(base.Add(-2 * time.Hour)), "old2": Stamp(base.Add(-time.Nanosecond)),
					"now": Stamp(base), "new": Stamp(base.Add(time.Hour)), "bad": []byte("xyz"),
				} {
					if err := b.Put([]byte(k), v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var n int
			var left []string
			err = Update(db, errClosed, func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("a"))
				if n, err = PruneBefore(b, base, tt.withBad); err != nil {
					return err
				}
				return b.ForEach(func(k, _ []byte) error { left = append(left, string(k)); return nil })
			})
			if err != nil || n != tt.want || len(left) != len(tt.left) {
				t.Fatalf("pruned %d (%v), left %v; want %d, %v", n, err, left, tt.want, tt.left)
			}
			for i := range left {
				if left[i] != tt.left[i] {
					t.Fatalf("left %v, want %v", left, tt.left)
				}
			}
		})
	}
}

// TestSeenSetExactlyOnce: of concurrent marks of one id exactly one is
// fresh; the set survives a reopen; Prune forgets old ids, which can then be
// marked again.
func TestSeenSetExactlyOnce(t *testing.T) {
	t.Parallel()
	db, path := openTest(t)
	s, err := NewSeenSet(db, []byte("seen"), errClosed)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ok, err := s.Mark([]byte("m1"), now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d fresh marks of one id, want 1", fresh.Load())
	}
	if _, err := s.Mark([]byte("old"), now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	db2, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	s2, err := NewSeenSet(db2, []byte("seen"), errClosed)
	if err != nil {
		t.Fatal(err)
	}
	if seen, err := s2.Seen([]byte("m1")); err != nil || !seen {
		t.Fatalf("after reopen: seen=%v err=%v", seen, err)
	}
	if n, err := s2.Prune(now.Add(-24 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	if ok, err := s2.Mark([]byte("old"), now); err != nil || !ok {
		t.Fatalf("a pruned id marked again: fresh=%v err=%v", ok, err)
	}
	if ok, _ := s2.Mark([]byte("m1"), now); ok {
		t.Fatal("an id kept after Prune was fresh again")
	}
}
