package doctor

import (
	"fmt"
	"net"
	"strings"
)

// iceURL is one parsed STUN or TURN URL (RFC 7064, RFC 7065):
// stun:HOST[:PORT], turn:HOST[:PORT][?transport=udp|tcp], and the TLS
// variants stuns: and turns:.
type iceURL struct {
	Scheme    string // stun, stuns, turn, turns
	HostPort  string // host:port, the default port filled in
	Transport string // udp or tcp (turn/turns); udp for stun, tcp for stuns
}

// parseICEURL parses s; it refuses anything else with a precise error.
func parseICEURL(s string) (iceURL, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return iceURL{}, fmt.Errorf("ice url %q: no scheme", s)
	}
	var u iceURL
	u.Scheme = strings.ToLower(scheme)
	port := "3478"
	switch u.Scheme {
	case "stun", "turn":
		u.Transport = "udp"
	case "stuns", "turns":
		u.Transport, port = "tcp", "5349"
	default:
		return iceURL{}, fmt.Errorf("ice url %q: scheme %q: want stun, stuns, turn or turns", s, scheme)
	}
	hostPort, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery {
		if u.Scheme == "stun" || u.Scheme == "stuns" {
			return iceURL{}, fmt.Errorf("ice url %q: a %s: URL takes no query", s, u.Scheme)
		}
		k, v, _ := strings.Cut(query, "=")
		if k != "transport" || (v != "udp" && v != "tcp") {
			return iceURL{}, fmt.Errorf("ice url %q: query %q: want transport=udp or transport=tcp", s, query)
		}
		u.Transport = v
	}
	if hostPort == "" || strings.Contains(hostPort, "/") || strings.Contains(hostPort, "@") {
		return iceURL{}, fmt.Errorf("ice url %q: bad host", s)
	}
	var host, p string
	switch {
	case strings.HasPrefix(hostPort, "[") && strings.HasSuffix(hostPort, "]"):
		host, p = hostPort[1:len(hostPort)-1], port
	case strings.HasPrefix(hostPort, "[") || strings.Count(hostPort, ":") == 1:
		var err error
		if host, p, err = net.SplitHostPort(hostPort); err != nil {
			return iceURL{}, fmt.Errorf("ice url %q: bad host and port: %v", s, err)
		}
	case strings.Contains(hostPort, ":"):
		return iceURL{}, fmt.Errorf("ice url %q: an IPv6 address needs brackets", s)
	default:
		host, p = hostPort, port
	}
	if host == "" || strings.ContainsAny(host, "[] ") {
		return iceURL{}, fmt.Errorf("ice url %q: empty or bad host", s)
	}
	if n, err := parsePort(p); err != nil || n == 0 {
		return iceURL{}, fmt.Errorf("ice url %q: port %q: want 1-65535", s, p)
	}
	u.HostPort = net.JoinHostPort(host, p)
	return u, nil
}

func parsePort(p string) (int, error) {
	if p == "" || len(p) > 5 {
		return 0, fmt.Errorf("bad port %q", p)
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad port %q", p)
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, fmt.Errorf("bad port %q", p)
	}
	return n, nil
}
