package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// loneNode starts an embedded NATS node alone (no listener), closed at the
// end of the test.
func loneNode(t *testing.T) *EmbeddedNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := StartNode(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// newMailStore opens a MailStore through node n.
func newMailStore(t *testing.T, n *EmbeddedNode, o *MailOptions) *MailStore {
	t.Helper()
	nc, err := n.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := NewMailStore(ctx, nc, o)
	if err != nil {
		t.Fatalf("NewMailStore: %v", err)
	}
	return m
}

const (
	boxA = "0123456789abcdef0123456789abcdef"
	boxB = "fedcba9876543210fedcba9876543210"
	boxC = "00000000000000000000000000000000"
)

// TestMailStoreLimits: a MailStore on one embedded node (one replica)
// keeps the caps of pkg/mailbox: messages and bytes per mailbox, the size
// of one message, the number of mailboxes, the store's total, and the
// names; Take hands over in order and empties the mailbox.
func TestMailStoreLimits(t *testing.T) {
	t.Parallel()
	node := loneNode(t)
	blob := func(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	type put struct {
		room, box string
		blob      []byte
		err       error
	}
	for i, tc := range []struct {
		name string
		opts MailOptions
		puts []put
	}{
		{"messages per box", MailOptions{MaxMessagesPerBox: 3}, []put{
			{"r", boxA, blob(5, 'a'), nil}, {"r", boxA, blob(5, 'b'), nil}, {"r", boxA, blob(5, 'c'), nil},
			{"r", boxA, blob(5, 'd'), ErrMailboxFull},
			{"other room", boxA, blob(5, 'e'), nil}, // another room is another mailbox
		}},
		{"bytes per box", MailOptions{MaxBytesPerBox: 100}, []put{
			{"r", boxA, blob(60, 'a'), nil}, {"r", boxA, blob(50, 'b'), ErrMailboxBytes}, {"r", boxA, blob(40, 'c'), nil},
			{"r", boxA, blob(1, 'd'), ErrMailboxBytes},
		}},
		{"message size", MailOptions{MaxMessageBytes: 10}, []put{
			{"r", boxA, blob(10, 'a'), nil}, {"r", boxA, blob(11, 'b'), ErrMailTooBig}, {"r", boxA, nil, ErrMailEmpty},
		}},
		{"boxes", MailOptions{MaxBoxes: 2}, []put{
			{"r", boxA, blob(5, 'a'), nil}, {"r", boxB, blob(5, 'b'), nil}, {"r", boxA, blob(5, 'c'), nil},
			{"r", boxC, blob(5, 'd'), ErrTooManyBoxes},
		}},
		{"total", MailOptions{MaxTotalBytes: 3000}, []put{
			{"r", boxA, blob(1000, 'a'), nil}, {"r", boxB, blob(1000, 'b'), nil},
			{"r", boxC, blob(1000, 'c'), ErrMailStoreFull}, // subjects and headers count too
		}},
		{"names", MailOptions{}, []put{
			{"", boxA, blob(1, 'a'), ErrBadMailRoom}, {strings.Repeat("r", 1025), boxA, blob(1, 'a'), ErrBadMailRoom},
			{"\xff", boxA, blob(1, 'a'), ErrBadMailRoom}, {"r", "ABCDEF0123456789abcdef0123456789", blob(1, 'a'), ErrBadMailboxID},
			{"r", "short", blob(1, 'a'), ErrBadMailboxID}, {"r.*>", boxA, blob(1, 'a'), nil},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Prefix = fmt.Sprintf("lim%d", i)
			m := newMailStore(t, node, &o)
			want := map[string][][]byte{}
			for j, p := range tc.puts {
				if err := m.Put(p.room, p.box, p.blob); !errors.Is(err, p.err) {
					t.Fatalf("put %d: %v, want %v", j, err, p.err)
				}
				if p.err == nil {
					want[p.room+"/"+p.box] = append(want[p.room+"/"+p.box], p.blob)
				}
			}
			for k, blobs := range want {
				room, box, _ := strings.Cut(k, "/")
				got, err := m.Take(room, box)
				if err != nil || len(got) != len(blobs) {
					t.Fatalf("take %s: %d messages, %v; want %d", k, len(got), err, len(blobs))
				}
				for j := range got {
					if !bytes.Equal(got[j], blobs[j]) {
						t.Fatalf("take %s: message %d differs", k, j)
					}
				}
				if again, err := m.Take(room, box); len(again) != 0 || err != nil {
					t.Fatalf("second take %s: %d messages, %v", k, len(again), err)
				}
			}
			// Emptied, the mailboxes take mail again.
			for _, p := range tc.puts {
				if p.err == nil {
					if err := m.Put(p.room, p.box, p.blob); err != nil {
						t.Fatalf("put after take: %v", err)
					}
					break
				}
			}
		})
	}
}

// TestMailStoreTTL: the stream keeps mail for the TTL (its MaxAge), and
// Take hands over nothing older, even before the server removed it.
func TestMailStoreTTL(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := newMailStore(t, loneNode(t), &MailOptions{TTL: time.Hour, Now: clock})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := m.st.Info(ctx)
	if err != nil || info.Config.MaxAge != time.Hour || info.Config.Replicas != 1 {
		t.Fatalf("stream config: %+v, %v", info, err)
	}
	if err := m.Put("r", boxA, []byte("old")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	if got, err := m.Take("r", boxA); len(got) != 0 || err != nil {
		t.Fatalf("take after the TTL: %q, %v; want nothing", got, err)
	}
}

// TestMailStoreConcurrentCap: deposits racing from three nodes never take
// a mailbox over its message cap.
func TestMailStoreConcurrentCap(t *testing.T) {
	t.Parallel()
	nodes := threeNodes(t)
	prefix := newPrefix()
	var stores []*MailStore
	for _, n := range nodes {
		stores = append(stores, newMailStore(t, n, &MailOptions{Prefix: prefix, Replicas: 3, MaxMessagesPerBox: 5}))
	}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() { _ = stores[i%3].Put("r", boxA, []byte{byte(i)}) })
	}
	wg.Wait()
	got, err := stores[0].Take("r", boxA)
	if err != nil || len(got) != 5 {
		t.Fatalf("take: %d messages, %v; want exactly the cap, 5", len(got), err)
	}
}

// TestMailSurvivesNode: three fresh NATS nodes, the mail stream on three
// replicas; mail deposited through node A is handed over through node B
// after A is shut down, nothing lost.
func TestMailSurvivesNode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addrs, routes, err := routeAddrs(3)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*EmbeddedNode
	for i, a := range addrs {
		n, err := StartNode(ctx, &NodeOptions{Name: fmt.Sprintf("m%d", i), ClusterListen: a, Routes: routes})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		nodes = append(nodes, n)
	}
	a := newMailStore(t, nodes[0], &MailOptions{Replicas: 3})
	for i := range 3 {
		if err := a.Put("r", boxA, []byte(fmt.Sprintf("mail %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	nodes[0].Close() // node A is gone, and its copy with it
	b := newMailStore(t, nodes[1], &MailOptions{Replicas: 3})
	var got [][]byte
	for {
		var err error
		if got, err = b.Take("r", boxA); err == nil {
			break
		}
		// The stream elects a new leader among B and C first.
		select {
		case <-ctx.Done():
			t.Fatalf("take on B after A died: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(got) != 3 || string(got[0]) != "mail 0" || string(got[2]) != "mail 2" {
		t.Fatalf("B handed over %q, want the 3 mails deposited on A", got)
	}
}
