package turnserver_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/verytippers/vtpeer/pkg/turnserver"
)

// TestCloseDropsTCPClients: pion/turn leaves accepted TCP connections open
// on Close; ours closes them and returns once every reader is gone.
func TestCloseDropsTCPClients(t *testing.T) {
	t.Parallel()
	s, err := turnserver.New(&turnserver.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp4", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(stun.MustBuild(stun.TransactionID, stun.BindingRequest).Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(conn, make([]byte, 20)); err != nil { // a STUN header: accepted and served
		t.Fatalf("binding response: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// The rest of the response, then EOF (or a reset), not the deadline.
	if _, err := io.Copy(io.Discard, conn); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("connection still open after Close")
		}
	}
}
