package mailbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const alice = "0x71c7656ec7ab88b098defb751b7401b5f6d8976f"

func openOutbox(t *testing.T, path string, o *OutboxOptions) *Outbox {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "peer.db")
	}
	ob, err := OpenOutbox(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	return ob
}

func ids(items []Item) string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = it.ID + ":" + it.Kind + ":" + string(it.Body)
	}
	return strings.Join(s, ",")
}

func TestOutboxOrderDoneReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "peer.db")
	clk := newClock()
	ob, err := OpenOutbox(path, &OutboxOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []string{alice, alice, mbox(1), alice} {
		if err := ob.Add(r, Item{ID: fmt.Sprintf("m%d", i), Kind: "chat", Body: []byte{'a' + byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.Done(alice, "m1"); err != nil {
		t.Fatal(err)
	}
	if err := ob.Done(alice, "m1"); err != nil { // repeated ack
		t.Fatal(err)
	}
	if err := ob.Done(alice, "nope"); err != nil {
		t.Fatal(err)
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Pending(alice); !errors.Is(err, ErrClosed) {
		t.Fatalf("pending after close: %v", err)
	}

	ob = openOutbox(t, path, nil)
	p, err := ob.Pending(alice)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p); got != "m0:chat:a,m3:chat:d" {
		t.Fatalf("pending %s", got)
	}
	if !p[0].Added.Equal(clk.Now()) {
		t.Fatalf("added %v", p[0].Added)
	}
	rs, err := ob.Recipients()
	if err != nil || strings.Join(rs, ",") != alice+","+mbox(1) {
		t.Fatalf("recipients %v %v", rs, err)
	}
	for _, id := range []string{"m0", "m3"} {
		if err := ob.Done(alice, id); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := ob.Pending(alice); len(p) != 0 {
		t.Fatalf("pending after done: %s", ids(p))
	}
	if rs, _ := ob.Recipients(); len(rs) != 1 {
		t.Fatalf("recipients after done: %v", rs)
	}
	// An id may be reused once done.
	if err := ob.Add(alice, Item{ID: "m0", Kind: "chat"}); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxLimits(t *testing.T) {
	t.Parallel()
	ob := openOutbox(t, "", &OutboxOptions{MaxItems: 2, MaxItemBytes: 4})
	tests := []struct {
		name string
		r    string
		it   Item
		want error
	}{
		{"ok", alice, Item{ID: "a", Kind: "chat", Body: []byte("1234")}, nil},
		{"duplicate", alice, Item{ID: "a", Kind: "chat"}, ErrDuplicate},
		{"same id other recipient", mbox(1), Item{ID: "a", Kind: "chat"}, nil},
		{"ok 2", alice, Item{ID: "b", Kind: "tip"}, nil},
		{"full", alice, Item{ID: "c", Kind: "chat"}, ErrOutboxFull},
		{"too big", mbox(2), Item{ID: "d", Kind: "chat", Body: []byte("12345")}, ErrTooBig},
		{"bad id", mbox(2), Item{ID: "a/b", Kind: "chat"}, ErrBadID},
		{"empty id", mbox(2), Item{Kind: "chat"}, ErrBadID},
		{"bad kind", mbox(2), Item{ID: "e", Kind: "a b"}, ErrBadKind},
		{"bad recipient", "a b", Item{ID: "e", Kind: "chat"}, ErrBadRecipient},
		{"empty recipient", "", Item{ID: "e", Kind: "chat"}, ErrBadRecipient},
	}
	for _, tt := range tests { // in order: the cases build on each other
		if err := ob.Add(tt.r, tt.it); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := OpenOutbox(filepath.Join(t.TempDir(), "x.db"), &OutboxOptions{MaxItems: -1}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("negative: %v", err)
	}
}

func TestOutboxSharedDB(t *testing.T) {
	t.Parallel()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "shared.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error { // another store's buckets
		for _, n := range []string{"seen", "outbox"} {
			if _, err := tx.CreateBucket([]byte(n)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := NewOutbox(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Add(alice, Item{ID: "x", Kind: "chat"}); err != nil {
		t.Fatal(err)
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	if p, err := ob.Pending(alice); err != nil || len(p) != 1 {
		t.Fatalf("shared db closed by Outbox.Close: %v", err)
	}
	if _, err := NewOutbox(nil, nil); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("nil db: %v", err)
	}
}

func TestSeen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "peer.db")
	ob, err := OpenOutbox(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := alice + "/m1"
	if fresh, err := ob.MarkSeen(id, t0); err != nil || !fresh {
		t.Fatalf("first mark: %v %v", fresh, err)
	}
	if fresh, err := ob.MarkSeen(id, t0.Add(time.Hour)); err != nil || fresh {
		t.Fatalf("second mark: %v %v", fresh, err)
	}
	if _, err := ob.MarkSeen("a b", t0); !errors.Is(err, ErrBadID) {
		t.Fatalf("bad id: %v", err)
	}
	ob.MarkSeen("later", t0.Add(2*time.Hour))
	ob.Close()

	ob = openOutbox(t, path, nil)
	if seen, err := ob.Seen(id); err != nil || !seen {
		t.Fatalf("seen after reopen: %v %v", seen, err)
	}
	n, err := ob.PruneSeen(t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if seen, _ := ob.Seen(id); seen {
		t.Fatal("pruned id still seen")
	}
	if seen, _ := ob.Seen("later"); !seen {
		t.Fatal("recent id pruned")
	}
}

// TestMarkSeenConcurrent: of many concurrent deliveries of one message,
// exactly one is fresh.
func TestMarkSeenConcurrent(t *testing.T) {
	t.Parallel()
	ob := openOutbox(t, "", nil)
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ok, err := ob.MarkSeen("dup", time.Now())
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
		t.Fatalf("%d fresh deliveries", fresh.Load())
	}
}
