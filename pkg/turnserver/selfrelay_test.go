package turnserver_test

import (
	"net"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/turnserver"
)

// TestRelayToOwnAllocation: without AllowLoopback, a client may relay to
// another live allocation of the same server (two peers that both need a
// relay), but not to any other port of the server's own address, and not to
// another loopback address. The server here listens on 127.0.0.1, so its
// relay address is loopback: the own-address rule must come before the
// loopback rule, and the per-port check is what keeps the server's own
// services out of reach.
func TestRelayToOwnAllocation(t *testing.T) {
	t.Parallel()
	s, reg := startServer(t, turnserver.Options{})
	ua, pa := s.Credentials("alice-peer", time.Hour, time.Now())
	ub, pb := s.Credentials("bob-peer", time.Hour, time.Now())
	ca := newClient(t, s.UDPAddr().String(), false, ua, pa)
	cb := newClient(t, s.UDPAddr().String(), false, ub, pb)
	ra, err := allocate(t, ca)
	if err != nil {
		t.Fatalf("allocate a: %v", err)
	}
	rb, err := allocate(t, cb)
	if err != nil {
		t.Fatalf("allocate b: %v", err)
	}

	// Live allocation ↔ live allocation, both directions. Each side's first
	// write creates its permission (per IP: both relays share the server's
	// address); a's "ping" may arrive before b has one (then b drops it).
	if _, err := ra.WriteTo([]byte("ping"), rb.LocalAddr()); err != nil {
		t.Fatalf("relay a to relay b: %v", err)
	}
	if _, err := rb.WriteTo([]byte("open"), ra.LocalAddr()); err != nil {
		t.Fatalf("relay b to relay a: %v", err)
	}
	got, from := readWithin(t, ra, 5*time.Second)
	if string(got) != "open" || from.String() != rb.LocalAddr().String() {
		t.Fatalf("relay a got %q from %v, want open from relay b %v", got, from, rb.LocalAddr())
	}
	if _, err := ra.WriteTo([]byte("hello b"), rb.LocalAddr()); err != nil {
		t.Fatalf("relay a to relay b: %v", err)
	}
	got, from = readWithin(t, rb, 5*time.Second)
	if string(got) == "ping" {
		got, from = readWithin(t, rb, 5*time.Second)
	}
	if string(got) != "hello b" || from.String() != ra.LocalAddr().String() {
		t.Fatalf("relay b got %q from %v, want hello b from relay a %v", got, from, ra.LocalAddr())
	}

	// The server's own address on a port that is no allocation: the
	// permission (per IP) is granted, the datagram is dropped.
	svc := udpPeer(t) // a service of the server's host on its relay address
	if _, err := ra.WriteTo([]byte("to a service"), svc.LocalAddr()); err != nil {
		t.Fatalf("relay a to own address: %v", err)
	}
	if _, err := svc.WriteTo([]byte("from a service"), ra.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	// A marker through the live path, sent after: once it arrives, the
	// dropped datagram would have arrived before it.
	if _, err := ra.WriteTo([]byte("marker"), rb.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got, _ := readWithin(t, rb, 5*time.Second); string(got) != "marker" {
		t.Fatalf("relay b got %q, want marker", got)
	}
	_ = svc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := svc.ReadFrom(make([]byte, 64)); err == nil {
		t.Fatalf("a service on the server's own address got %d bytes through the relay", n)
	}
	waitFor(t, 5*time.Second, func() bool {
		return counter(t, reg, "vtpeer_turn_self_dropped_total", "to_peer") >= 1 &&
			counter(t, reg, "vtpeer_turn_self_dropped_total", "from_peer") >= 1
	}, "self_dropped counters")

	// Another loopback address is still refused at the permission.
	if _, err := ra.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 9}); err == nil {
		t.Fatal("permission to 127.0.0.2 granted without AllowLoopback")
	}

	// A dead allocation's port is refused like any other port.
	dead := rb.LocalAddr()
	if err := rb.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return s.Allocations() == 1 }, "allocation b gone")
	before := counter(t, reg, "vtpeer_turn_self_dropped_total", "to_peer")
	if _, err := ra.WriteTo([]byte("to a dead relay"), dead); err != nil {
		t.Fatalf("relay a to dead relay: %v", err)
	}
	waitFor(t, 5*time.Second, func() bool {
		return counter(t, reg, "vtpeer_turn_self_dropped_total", "to_peer") > before
	}, "datagram to a dead relay dropped")
}

// waitFor polls cond (a metric or a count the server updates) until it holds.
func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
