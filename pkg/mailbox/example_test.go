package mailbox_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/verytippers/vtpeer/pkg/mailbox"
	"github.com/verytippers/vtpeer/pkg/seal"
)

// The server keeps sealed mail for an absent peer and hands it over when
// the peer joins.
func Example() {
	dir, _ := os.MkdirTemp("", "mailbox-example")
	defer os.RemoveAll(dir)

	// The recipient's static key; its public half reached the sender in a
	// signed identity during an earlier session.
	key, _ := seal.GenerateStaticKey(nil)
	pub := key.PublicKey().Bytes()

	box, err := mailbox.Open(filepath.Join(dir, "mail.db"), &mailbox.Options{TTL: 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer box.Close()

	blob, _ := seal.SealMail(pub, "lobby", []byte("see you tomorrow"))
	if err := box.Put("lobby", seal.MailboxID(pub), blob); err != nil {
		fmt.Println(err)
		return
	}

	// Later the recipient joins "lobby" and announces its mailbox id.
	mail, _ := box.Take("lobby", seal.MailboxID(pub))
	for _, m := range mail {
		text, err := seal.OpenMail(key, "lobby", m)
		fmt.Println(string(text), err)
	}
	fmt.Printf("%+v\n", box.Stats())
	// Output:
	// see you tomorrow <nil>
	// {Boxes:0 Messages:0 Bytes:0}
}

// The sender queues a message until the recipient acknowledges it; the
// receiver's seen set makes a resent copy harmless.
func ExampleOutbox() {
	dir, _ := os.MkdirTemp("", "outbox-example")
	defer os.RemoveAll(dir)
	ob, err := mailbox.OpenOutbox(filepath.Join(dir, "peer.db"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ob.Close()

	const bob = "0x19f8c5a1b3e2d7c6f4a9b8e7d6c5b4a3f2e1aa58"
	_ = ob.Add(bob, mailbox.Item{ID: "k3J9x", Kind: "chat", Body: []byte(`{"text":"hi"}`)})
	pending, _ := ob.Pending(bob)
	fmt.Println(len(pending), pending[0].ID)

	// Receiver side (here the same store for brevity): deliver once.
	for range 2 {
		fresh, _ := ob.MarkSeen("0xsender/"+pending[0].ID, time.Now())
		fmt.Println("deliver:", fresh)
	}

	_ = ob.Done(bob, "k3J9x") // on the receiver's ack
	pending, _ = ob.Pending(bob)
	fmt.Println(len(pending))
	// Output:
	// 1 k3J9x
	// deliver: true
	// deliver: false
	// 0
}
