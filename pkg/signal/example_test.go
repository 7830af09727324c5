package signal_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// Two clients meet in a room and one sends the other an offer.
func Example() {
	srv, err := signal.NewServer(nil)
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	alice, _ := signal.Dial(ctx, url, &signal.ClientOptions{PeerID: "alice-0001"})
	defer alice.Close()
	bob, _ := signal.Dial(ctx, url, &signal.ClientOptions{PeerID: "bob-00001"})
	defer bob.Close()

	joined, _ := alice.Join(ctx, "tips")
	fmt.Println("alice is", joined.PeerID, "with peers", joined.Peers)
	joined, _ = bob.Join(ctx, "tips")
	fmt.Println("bob sees", joined.Peers)

	_ = bob.Send(ctx, signal.Frame{Type: "offer", Data: []byte(`{"sdp":"v=0"}`)})
	for {
		f, err := alice.Recv(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		switch f.Type {
		case "peer-joined":
			fmt.Println("alice sees", f.PeerID, "arrive")
		case "offer":
			fmt.Println("alice got an offer from", f.From+":", string(f.Data))
			return
		}
	}
	// Output:
	// alice is alice-0001 with peers []
	// bob sees [alice-0001]
	// alice sees bob-00001 arrive
	// alice got an offer from bob-00001: {"sdp":"v=0"}
}

// EncodeFrame keeps relayed data byte for byte, and a joined frame always
// lists peers and ICE servers.
func ExampleEncodeFrame() {
	b, _ := signal.EncodeFrame(signal.Frame{Type: "joined", Room: "r", PeerID: "p1"})
	fmt.Println(string(b))
	b, _ = signal.EncodeFrame(signal.Frame{Type: "ice", From: "p1", Data: []byte(`{"candidate": "<x>"}`)})
	fmt.Println(string(b))
	// Output:
	// {"type":"joined","room":"r","peerId":"p1","peers":[],"iceServers":[]}
	// {"type":"ice","from":"p1","data":{"candidate": "<x>"}}
}
