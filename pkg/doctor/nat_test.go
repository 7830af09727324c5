package doctor

import (
	"net"
	"testing"
)

func TestClassifyNAT(t *testing.T) {
	t.Parallel()
	ua := func(s string) *net.UDPAddr {
		a, err := net.ResolveUDPAddr("udp4", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	local := func(ip net.IP) bool { return ip.Equal(net.ParseIP("10.0.0.2")) }
	tests := []struct {
		name string
		p    natProbe
		want string
	}{
		{"no NAT", natProbe{localA: ua("10.0.0.2:5000"), localB: ua("10.0.0.2:5001"), dst1: ua("198.51.100.1:3478"),
			mappedA1: ua("10.0.0.2:5000"), mapped: ua("10.0.0.2:5001")}, natNone},
		{"one destination behind NAT", natProbe{localA: ua("10.0.0.2:5000"), localB: ua("10.0.0.2:5001"), dst1: ua("198.51.100.1:3478"),
			mappedA1: ua("203.0.113.9:40000"), mapped: ua("203.0.113.9:40001")}, natUnknownMap},
		{"endpoint-independent", natProbe{localA: ua("10.0.0.2:5000"), localB: ua("10.0.0.2:5001"), dst1: ua("198.51.100.1:3478"), dst2: ua("198.51.100.2:3478"),
			mappedA1: ua("203.0.113.9:40000"), mapped: ua("203.0.113.9:40001"), mappedA2: ua("203.0.113.9:40000")}, natEIM},
		{"symmetric: the port alone changes the mapping", natProbe{localA: ua("10.0.0.2:5000"), localB: ua("10.0.0.2:5001"), dst1: ua("198.51.100.1:3478"), dst2: ua("198.51.100.1:3479"),
			mappedA1: ua("203.0.113.9:40000"), mapped: ua("203.0.113.9:40001"), mappedA2: ua("203.0.113.9:40002")}, natSymmetric},
		{"address-dependent", natProbe{localA: ua("10.0.0.2:5000"), localB: ua("10.0.0.2:5001"), dst1: ua("198.51.100.1:3478"), dst2: ua("198.51.100.2:3478"),
			mappedA1: ua("203.0.113.9:40000"), mapped: ua("203.0.113.9:40001"), mappedA2: ua("203.0.113.9:40002")}, natAddrDep},
		{"port changed on a local address is a NAT", natProbe{localA: ua("10.0.0.2:5000"), localB: ua("10.0.0.2:5001"), dst1: ua("198.51.100.1:3478"),
			mappedA1: ua("10.0.0.2:6000"), mapped: ua("10.0.0.2:5001")}, natUnknownMap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := classifyNAT(tt.p, local); got != tt.want {
				t.Errorf("classifyNAT = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseICEURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, scheme, hostPort, transport string
		bad                             bool
	}{
		{in: "stun:127.0.0.1:3478", scheme: "stun", hostPort: "127.0.0.1:3478", transport: "udp"},
		{in: "turn:203.0.113.7:3478?transport=tcp", scheme: "turn", hostPort: "203.0.113.7:3478", transport: "tcp"},
		{in: "turn:turn.example.org", scheme: "turn", hostPort: "turn.example.org:3478", transport: "udp"},
		{in: "turns:turn.example.org", scheme: "turns", hostPort: "turn.example.org:5349", transport: "tcp"},
		{in: "stun:[2001:db8::1]:3478", scheme: "stun", hostPort: "[2001:db8::1]:3478", transport: "udp"},
		{in: "stun:[2001:db8::1]", scheme: "stun", hostPort: "[2001:db8::1]:3478", transport: "udp"},
		{in: "stun:2001:db8::1", bad: true},
		{in: "http://x", bad: true},
		{in: "turn:x:0", bad: true},
		{in: "turn:x:70000", bad: true},
		{in: "turn:x?transport=sctp", bad: true},
		{in: "stun:x?transport=udp", bad: true},
		{in: "turn:", bad: true},
		{in: "nocolon", bad: true},
		{in: "turn:user@x", bad: true},
	}
	for _, tt := range tests {
		u, err := parseICEURL(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("%q: parsed as %+v, want an error", tt.in, u)
			}
			continue
		}
		if err != nil || u.Scheme != tt.scheme || u.HostPort != tt.hostPort || u.Transport != tt.transport {
			t.Errorf("%q: %+v, %v", tt.in, u, err)
		}
	}
}

func FuzzParseICEURL(f *testing.F) {
	for _, s := range []string{"stun:127.0.0.1:3478", "turn:h:1?transport=tcp", "turns:[::1]", "turn:[::1", "stun::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseICEURL(s)
		if err != nil {
			return
		}
		// whatever parses names a host and a port that dial can take
		if _, _, err := net.SplitHostPort(u.HostPort); err != nil {
			t.Fatalf("%q → HostPort %q: %v", s, u.HostPort, err)
		}
		if u.Transport != "udp" && u.Transport != "tcp" {
			t.Fatalf("%q → transport %q", s, u.Transport)
		}
	})
}
