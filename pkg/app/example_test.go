package app_test

import (
	"errors"
	"fmt"

	"github.com/verytippers/vtpeer/pkg/app"
	"github.com/verytippers/vtpeer/pkg/peer"
)

// A tip goes to the one peer proving its recipient's address, never to a
// peer proving someone else; several anonymous peers need a choice.
func ExampleChooseTipTarget() {
	const bob = "0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58"
	peers := []peer.PeerInfo{
		{ID: "p1", Connected: true, Address: "0xD4be4442D6C200E665c6b08A2FEf88c925D1A557"},
		{ID: "p2", Connected: true, Address: bob},
		{ID: "p3", Connected: true},
	}
	id, err := app.ChooseTipTarget(peers, bob, "")
	fmt.Println(id, err)

	anonymous := []peer.PeerInfo{{ID: "p3", Connected: true}, {ID: "p4", Connected: true}}
	_, err = app.ChooseTipTarget(anonymous, bob, "")
	fmt.Println(errors.Is(err, app.ErrAmbiguousTarget))
	id, _ = app.ChooseTipTarget(anonymous, bob, "p4")
	fmt.Println(id)
	// Output:
	// p2 <nil>
	// true
	// p4
}

// A chat body is JSON; what does not decode is an error, not a panic.
func ExampleDecodeChat() {
	c, err := app.DecodeChat([]byte(`{"text":"hello"}`))
	fmt.Println(c.Text, err)
	_, err = app.DecodeChat([]byte(`{"text":5}`))
	fmt.Println(errors.Is(err, app.ErrBadChat))
	// Output:
	// hello <nil>
	// true
}
