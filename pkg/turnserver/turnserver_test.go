package turnserver_test

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/verytippers/vtpeer/pkg/turnserver"
)

func TestRelayLoopbackPolicy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		allowLoopback bool
		tcp           bool
	}{
		{"denied", false, false},
		{"allowed", true, false},
		// TURN over TCP is checked with pion/webrtc in TestWebRTCOverRelay:
		// the pion/turn client matches inbound data against a UDP server
		// address and drops what arrives over TCP.
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, reg := startServer(t, turnserver.Options{AllowLoopback: tt.allowLoopback})
			user, pass := s.Credentials("alice-peer", time.Hour, time.Now())
			addr := s.UDPAddr().String()
			if tt.tcp {
				addr = s.TCPAddr().String()
			}
			c := newClient(t, addr, tt.tcp, user, pass)
			relay, err := c.Allocate()
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			defer relay.Close()
			if ra := relay.LocalAddr().(*net.UDPAddr); !ra.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Fatalf("relay address %v", ra)
			}
			// Not the server's own address (127.0.0.1: see TestRelayToOwnAllocation).
			pc, err := net.ListenPacket("udp4", "127.0.0.2:0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			peer := pc
			_, err = relay.WriteTo([]byte("hello"), peer.LocalAddr())
			if !tt.allowLoopback {
				if err == nil {
					t.Fatal("relayed to a loopback peer without AllowLoopback")
				}
				if n := counter(t, reg, "vtpeer_turn_permissions_denied_total"); n < 1 {
					t.Fatalf("permissions denied metric %v", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("relay write: %v", err)
			}
			got, from := readWithin(t, peer, 5*time.Second)
			if string(got) != "hello" || from.String() != relay.LocalAddr().String() {
				t.Fatalf("peer got %q from %v, want hello from %v", got, from, relay.LocalAddr())
			}
			if _, err := peer.WriteTo([]byte("back"), from); err != nil {
				t.Fatal(err)
			}
			got, _ = readWithin(t, relay, 5*time.Second)
			if string(got) != "back" {
				t.Fatalf("relay got %q", got)
			}
			if v := gauge(t, reg, "vtpeer_turn_allocations"); v != 1 {
				t.Fatalf("allocations gauge %v", v)
			}
		})
	}
}

func TestAuthRefused(t *testing.T) {
	t.Parallel()
	s, reg := startServer(t, turnserver.Options{AllowLoopback: true})
	now := time.Now()
	expUser, expPass := s.Credentials("alice-peer", -time.Minute, now)
	fUser, _ := s.Credentials("alice-peer", time.Hour, now)
	_, fPass := turnserver.Credentials([]byte("some-other-secret-16+"), "alice-peer", time.Hour, now)
	okUser, okPass := s.Credentials("alice-peer", time.Hour, now)
	for _, tt := range []struct{ name, user, pass string }{
		{"expired", expUser, expPass},
		{"forged", fUser, fPass},
		{"tampered user", okUser + "x", okPass},
		{"no expiry", "alice-peer", okPass},
		{"empty peer", okUser[:len(okUser)-len("alice-peer")], okPass},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, s.UDPAddr().String(), false, tt.user, tt.pass)
			if relay, err := c.Allocate(); err == nil {
				relay.Close()
				t.Fatal("allocation with bad credentials succeeded")
			}
		})
	}
	if n := counter(t, reg, "vtpeer_turn_auth_failures_total"); n < 5 {
		t.Fatalf("auth failures metric %v, want ≥ 5", n)
	}
	if s.Allocations() != 0 {
		t.Fatalf("%d allocations", s.Allocations())
	}
}

func TestAllocationQuota(t *testing.T) {
	t.Parallel()
	s, reg := startServer(t, turnserver.Options{AllowLoopback: true, MaxAllocationsPerUser: 2})
	user, pass := s.Credentials("carol-peer", time.Hour, time.Now())
	first := newClient(t, s.UDPAddr().String(), false, user, pass)
	r1, err := first.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := allocate(t, newClient(t, s.UDPAddr().String(), false, user, pass)); err != nil {
		t.Fatal(err)
	}
	if _, err := allocate(t, newClient(t, s.UDPAddr().String(), false, user, pass)); err == nil {
		t.Fatal("third allocation of one user succeeded")
	}
	if n := counter(t, reg, "vtpeer_turn_quota_rejections_total"); n != 1 {
		t.Fatalf("quota rejections %v", n)
	}
	// Another user is not affected.
	u2, p2 := s.Credentials("dave-peer", time.Hour, time.Now())
	if _, err := allocate(t, newClient(t, s.UDPAddr().String(), false, u2, p2)); err != nil {
		t.Fatalf("other user: %v", err)
	}
	// Freeing one allocation frees quota. The server handles one UDP socket's
	// requests in order, so the binding request returns after the refresh
	// that deletes the allocation.
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.SendBindingRequest(); err != nil {
		t.Fatal(err)
	}
	if _, err := allocate(t, newClient(t, s.UDPAddr().String(), false, user, pass)); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}

func TestBandwidthQuota(t *testing.T) {
	t.Parallel()
	const quota = 64 << 10
	s, reg := startServer(t, turnserver.Options{AllowLoopback: true, UserBandwidth: quota})
	user, pass := s.Credentials("erin-peer", time.Hour, time.Now())
	relay, err := newClient(t, s.UDPAddr().String(), false, user, pass).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	peer := udpPeer(t)
	msg := bytes.Repeat([]byte{'x'}, 1000)
	const sent = 256
	for range sent {
		if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	// Count what arrives until the line has been quiet for 500 ms.
	received := 0
	buf := make([]byte, 1500)
	for {
		_ = peer.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, _, err := peer.ReadFrom(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		received += n
	}
	dropped := counter(t, reg, "vtpeer_turn_dropped_bytes_total", "to_peer")
	// At most the burst plus what refilled while sending.
	if received == 0 || received > quota+quota/2 || dropped == 0 {
		t.Fatalf("received %d bytes of %d, dropped %v; quota %d/s", received, sent*len(msg), dropped, quota)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, o := range []turnserver.Options{
		{Addr: "127.0.0.1:0", Secret: []byte("short")},
		{Addr: "127.0.0.1:0", PublicIP: net.IPv4zero},
		{Addr: "127.0.0.1:0", PublicIP: net.ParseIP("2001:db8::1")},
		{Addr: "no-port"},
		{Addr: "127.0.0.1:0", AltAddr: "no-port"},
	} {
		if s, err := turnserver.New(&o); !errors.Is(err, turnserver.ErrBadOptions) {
			if s != nil {
				_ = s.Close()
			}
			t.Errorf("%+v: %v, want ErrBadOptions", o, err)
		}
	}
}

func TestPublicIPAndURLs(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, turnserver.Options{PublicIP: net.IPv4(203, 0, 113, 7)})
	if !s.RelayIP().Equal(net.IPv4(203, 0, 113, 7)) {
		t.Fatalf("relay ip %v", s.RelayIP())
	}
	urls := s.URLs()
	if len(urls) != 2 || s.UDPAddr().Port != s.TCPAddr().Port {
		t.Fatalf("urls %v, udp %v tcp %v", urls, s.UDPAddr(), s.TCPAddr())
	}
	for i, tr := range []string{"udp", "tcp"} {
		want := "turn:203.0.113.7:" + itoa(s.UDPAddr().Port) + "?transport=" + tr
		if urls[i] != want {
			t.Errorf("url %q, want %q", urls[i], want)
		}
	}
}

// TestAltPort: with AltAddr the server answers STUN Binding on a second UDP
// port too, and one client socket sees the same mapped address from both
// (on loopback, its own address): what a NAT classification compares.
func TestAltPort(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, turnserver.Options{AltAddr: "127.0.0.1:0", PublicIP: net.IPv4(127, 0, 0, 1)})
	main, alt := strings.TrimPrefix(s.STUNURL(), "stun:"), strings.TrimPrefix(s.AltSTUNURL(), "stun:")
	if alt == "" || alt == main {
		t.Fatalf("AltSTUNURL %q, STUNURL %q: want a second port", s.AltSTUNURL(), s.STUNURL())
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, server := range []string{main, alt} {
		to, err := net.ResolveUDPAddr("udp4", server)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteTo(stun.MustBuild(stun.TransactionID, stun.BindingRequest).Raw, to); err != nil {
			t.Fatal(err)
		}
		b, from := readWithin(t, conn, 10*time.Second)
		var m stun.Message
		var mapped stun.XORMappedAddress
		if err := stun.Decode(b, &m); err != nil {
			t.Fatalf("answer from %v: %v", from, err)
		}
		if err := mapped.GetFrom(&m); err != nil {
			t.Fatalf("answer from %v: %v", from, err)
		}
		if from.String() != server || mapped.String() != conn.LocalAddr().String() {
			t.Errorf("binding via %s: answered by %v, mapped %v, want %v", server, from, mapped, conn.LocalAddr())
		}
	}
	// Without AltAddr there is no second URL.
	if u := func() string { s, _ := startServer(t, turnserver.Options{}); return s.AltSTUNURL() }(); u != "" {
		t.Errorf("AltSTUNURL without AltAddr = %q", u)
	}
}
