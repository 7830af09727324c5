package seal_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/verytippers/vtpeer/pkg/seal"
)

// Two peers run the handshake in memory; in vtpeer the three messages
// travel as DataChannel text messages. Fixed Rand makes the output
// reproducible: never set Rand outside tests.
func Example() {
	certO, certA := sha256.Sum256([]byte("offerer cert")), sha256.Sum256([]byte("answerer cert"))
	offerer, err := seal.NewHandshake(seal.Config{
		Room: "demo", Role: seal.RoleOfferer,
		LocalFingerprint: certO[:], RemoteFingerprint: certA[:],
		Rand: bytes.NewReader(bytes.Repeat([]byte{1}, 32)),
	})
	if err != nil {
		panic(err)
	}
	answerer, err := seal.NewHandshake(seal.Config{
		Room: "demo", Role: seal.RoleAnswerer,
		LocalFingerprint: certA[:], RemoteFingerprint: certO[:],
		Rand: bytes.NewReader(bytes.Repeat([]byte{2}, 32)),
	})
	if err != nil {
		panic(err)
	}

	hello, _ := offerer.Start() // offerer → answerer: hello with commitment
	_, _ = answerer.Start()     // the answerer waits for it
	reply, _, err := answerer.Handle(hello)
	if err != nil {
		panic(err)
	}
	reveal, so, err := offerer.Handle(reply) // answerer's hello → offerer
	if err != nil {
		panic(err)
	}
	_, sa, err := answerer.Handle(reveal) // offerer's reveal → answerer
	if err != nil {
		panic(err)
	}
	fmt.Println("SAS:", so.SAS(), sa.SAS())

	frame, _ := so.Seal([]byte("hi"))
	text, err := sa.Open(frame)
	fmt.Printf("%d-byte frame → %q %v\n", len(frame), text, err)
	_, err = sa.Open(frame) // the same frame again
	fmt.Println("replay:", err)
	// Output:
	// SAS: 828537 828537
	// 27-byte frame → "hi" <nil>
	// replay: seal: message authentication failed
}
