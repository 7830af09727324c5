package turnserver_test

import (
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/verytippers/vtpeer/pkg/turnserver"
)

// Credentials in the TURN REST convention, as coturn's use-auth-secret and
// this package's Server expect them.
func ExampleCredentials() {
	secret := []byte("0123456789abcdef")
	user, pass := turnserver.Credentials(secret, "4f1c2a9e", time.Hour, time.Unix(1700000000, 0))
	fmt.Println(user)
	fmt.Println(pass)
	// Output:
	// 1700003600:4f1c2a9e
	// ULzt2awDfAByHdx4y5tV6sV9Zps=
}

// A TURN server on loopback, and the ICE server entry a joined peer gets.
func ExampleNew() {
	s, err := turnserver.New(&turnserver.Options{Addr: "127.0.0.1:0", AllowLoopback: true})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	user, _ := s.Credentials("4f1c2a9e", time.Hour, time.Now())
	for _, u := range s.URLs() {
		fmt.Println(strings.SplitN(u, ":", 2)[0], u[strings.LastIndex(u, "?"):])
	}
	fmt.Println(strings.HasSuffix(user, ":4f1c2a9e"))
	// Output:
	// turn ?transport=udp
	// turn ?transport=tcp
	// true
}
