package peer

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collector splits a Node's events into typed channels.
type collector struct {
	n         *Node
	connected chan PeerConnected
	msgs      chan Message
	errs      chan Error
	left      chan PeerLeft
	paths     chan PathChanged
	changed   chan SASChanged
	undeliv   chan Undelivered
	done      chan struct{}
}

func collect(n *Node) *collector {
	c := &collector{n: n, connected: make(chan PeerConnected, 64), msgs: make(chan Message, 4096),
		errs: make(chan Error, 64), left: make(chan PeerLeft, 64), paths: make(chan PathChanged, 64),
		changed: make(chan SASChanged, 64), undeliv: make(chan Undelivered, 64), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for e := range n.Events() {
			switch e := e.(type) {
			case PeerConnected:
				c.connected <- e
			case Message:
				c.msgs <- e
			case Error:
				select {
				case c.errs <- e:
				default:
				}
			case PeerLeft:
				select {
				case c.left <- e:
				default:
				}
			case PathChanged:
				select {
				case c.paths <- e:
				default:
				}
			case SASChanged:
				select {
				case c.changed <- e:
				default:
				}
			case Undelivered:
				select {
				case c.undeliv <- e:
				default:
				}
			}
		}
	}()
	return c
}

type testNode struct {
	id string
	n  *Node
	c  *collector
}

// newNode creates a loopback-only Node registered as id on r; mod may adjust its options.
func newNode(t testing.TB, r *relay, id string, mod func(*Options)) *testNode {
	t.Helper()
	o := withLoopback(&Options{Room: "test-room", Signaler: r.signaler(id), Logger: debugLogger(t.Name() + "/" + id)})
	if mod != nil {
		mod(o)
	}
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{id: id, n: n, c: collect(n)}
	t.Cleanup(func() {
		_ = n.Close()
		<-tn.c.done
	})
	return tn
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitConnected(t testing.TB, ctx context.Context, tn *testNode) PeerConnected {
	t.Helper()
	select {
	case e := <-tn.c.connected:
		return e
	case e := <-tn.c.errs:
		t.Fatalf("%s: error event %s: %v", tn.id, e.Code, e.Err)
	case <-ctx.Done():
		t.Fatalf("%s: not connected: %v", tn.id, ctx.Err())
	}
	return PeerConnected{}
}

func waitError(t testing.TB, ctx context.Context, tn *testNode) Error {
	t.Helper()
	select {
	case e := <-tn.c.errs:
		return e
	case <-ctx.Done():
		t.Fatalf("%s: no error event: %v", tn.id, ctx.Err())
	}
	return Error{}
}

// pair starts a relay, node a (first) and node b (joins later and offers), and waits for both.
func pair(t testing.TB, ctx context.Context, modA, modB func(*Options)) (*relay, *testNode, *testNode) {
	t.Helper()
	r := newRelay(t)
	a := newNode(t, r, "a", modA)
	b := newNode(t, r, "b", modB)
	r.join("a", a.n)
	r.join("b", b.n)
	waitConnected(t, ctx, a)
	waitConnected(t, ctx, b)
	return r, a, b
}
