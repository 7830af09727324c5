package peer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/verytippers/vtpeer/pkg/peer"
)

// switchboard is a toy signaling server: it hands each frame to the addressed Node.
type switchboard struct {
	mu    sync.Mutex
	nodes map[string]*peer.Node
	wg    sync.WaitGroup
}

type line struct {
	sb   *switchboard
	self string
}

func (l line) Signal(_ context.Context, to, typ string, data json.RawMessage) error {
	l.sb.mu.Lock()
	n := l.sb.nodes[to]
	l.sb.mu.Unlock()
	l.sb.wg.Add(1)
	go func() { // a real server delivers asynchronously; ordering per sender is good enough here
		defer l.sb.wg.Done()
		_ = n.HandleSignal(context.Background(), l.self, typ, data)
	}()
	return nil
}

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sb := &switchboard{nodes: map[string]*peer.Node{}}
	alice, _ := peer.New(&peer.Options{Room: "example", Signaler: line{sb, "alice"}, LoopbackOnly: true})
	bob, _ := peer.New(&peer.Options{Room: "example", Signaler: line{sb, "bob"}, LoopbackOnly: true})
	sb.nodes["alice"], sb.nodes["bob"] = alice, bob

	alice.Joined(ctx, "alice", nil, nil)           // first in the room
	bob.Joined(ctx, "bob", []string{"alice"}, nil) // joins later: offers to alice

	sas := map[string]string{}
	for len(sas) < 2 {
		select {
		case e := <-alice.Events():
			if c, ok := e.(peer.PeerConnected); ok {
				sas["alice"] = c.SAS
			}
		case e := <-bob.Events():
			if c, ok := e.(peer.PeerConnected); ok {
				sas["bob"] = c.SAS
			}
		}
	}
	fmt.Println("same SAS:", sas["alice"] == sas["bob"])

	_ = bob.Send(ctx, "alice", "chat", []byte("hello alice"))
	for e := range alice.Events() {
		if m, ok := e.(peer.Message); ok {
			fmt.Printf("%s from %s: %s\n", m.Kind, m.Peer, m.Body)
			break
		}
	}
	_ = bob.WaitAcked(ctx, "alice")
	_ = alice.Close()
	_ = bob.Close()
	sb.wg.Wait()
	// Output:
	// same SAS: true
	// chat from bob: hello alice
}
