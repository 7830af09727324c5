package doctor

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// serverFacts are what the server checks learned for the later ones.
type serverFacts struct {
	reachable bool // TCP connected
	date      time.Time
	rtt       time.Duration
	localAt   time.Time // local time halfway through the request that returned date
	joined    bool
	ice       []signal.ICEServer
}

// checkServer runs dns, tcp, tls, healthz, websocket, protocol and token.
func checkServer(ctx context.Context, o *Options, r *Report) serverFacts {
	var facts serverFacts
	u, _ := url.Parse(o.Server) // validated
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	skipRest := func(from int, why string) {
		for _, c := range []string{"dns", "tcp", "tls", "healthz", "websocket", "protocol", "token"}[from:] {
			r.add(GroupServer, c, StatusSkip, why, "")
		}
	}

	// dns
	if ip := net.ParseIP(host); ip != nil {
		r.add(GroupServer, "dns", StatusOK, host+" is an IP address: no lookup needed", "")
	} else {
		dctx, cancel := context.WithTimeout(ctx, o.Timeout)
		addrs, err := net.DefaultResolver.LookupHost(dctx, host)
		cancel()
		if err != nil {
			r.add(GroupServer, "dns", StatusFail, fmt.Sprintf("look up %s: %v", host, err),
				"check the host name in --server, or this machine's DNS resolver (/etc/resolv.conf)")
			skipRest(1, "needs dns")
			return facts
		}
		r.add(GroupServer, "dns", StatusOK, fmt.Sprintf("%s → %s", host, strings.Join(addrs, ", ")), "")
	}

	// tcp
	hostPort := net.JoinHostPort(host, port)
	d := net.Dialer{Timeout: o.Timeout}
	start := time.Now()
	tc, err := d.DialContext(ctx, "tcp", hostPort)
	if err != nil {
		fix := fmt.Sprintf("a firewall drops TCP to port %s, or the host is down: open the port towards the server", port)
		if errors.Is(err, syscall.ECONNREFUSED) {
			fix = "nothing listens there: start `vtpeer serve` on that host, or fix the port in --server"
		}
		r.add(GroupServer, "tcp", StatusFail, err.Error(), fix)
		skipRest(2, "needs tcp")
		return facts
	}
	_ = tc.Close()
	facts.reachable = true
	r.add(GroupServer, "tcp", StatusOK, fmt.Sprintf("connected to %s in %s", tc.RemoteAddr(), time.Since(start).Round(time.Millisecond)), "")

	// tls
	checkTLS(ctx, o, r, u.Scheme == "wss", host, hostPort)

	// healthz
	healthVersion := checkHealth(ctx, o, r, u, &facts)

	// websocket, protocol, token
	checkJoin(ctx, o, r, healthVersion, &facts)
	return facts
}

// checkTLS verifies the server certificate for wss://; for ws:// it only
// warns when the server is not on loopback.
func checkTLS(ctx context.Context, o *Options, r *Report, secure bool, host, hostPort string) {
	if !secure {
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			r.add(GroupServer, "tls", StatusOK, "ws:// on loopback: no TLS needed", "")
			return
		}
		r.add(GroupServer, "tls", StatusWarn, "ws:// is not encrypted: anyone on the path sees who joins which room, and tokens (peers' messages stay sealed)",
			"serve with --tls-cert/--tls-key and use wss://; browsers need https outside localhost anyway")
		return
	}
	cfg := &tls.Config{}
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: o.Timeout}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", hostPort)
	if err != nil {
		r.add(GroupServer, "tls", StatusFail, fmt.Sprintf("TLS handshake with %s: %v", hostPort, err),
			fmt.Sprintf("give `vtpeer serve --tls-cert` a certificate for %s from a CA clients trust (e.g. Let's Encrypt), with its intermediates", host))
		return
	}
	defer c.Close()
	certs := c.(*tls.Conn).ConnectionState().PeerCertificates
	leaf := certs[0]
	left := time.Until(leaf.NotAfter)
	detail := fmt.Sprintf("certificate for %s valid until %s (%d days), issued by %s", host, leaf.NotAfter.UTC().Format(time.DateOnly), int(left.Hours()/24), leaf.Issuer.CommonName)
	if left < 14*24*time.Hour {
		r.add(GroupServer, "tls", StatusWarn, detail, "renew the certificate before it expires (certbot renew, then restart vtpeer serve)")
		return
	}
	r.add(GroupServer, "tls", StatusOK, detail, "")
}

// health is the JSON /healthz answers.
type health struct {
	Status      string `json:"status"`
	Version     int    `json:"version"`
	Connections int    `json:"connections"`
	Rooms       int    `json:"rooms"`
}

const notVtpeerFix = "point --server at a `vtpeer serve` (check host, port, and that a proxy in front passes /healthz and WebSocket upgrades)"

// checkHealth GETs /healthz; it records the server's Date header for the
// clock check and returns the protocol version it reports (0: unknown).
func checkHealth(ctx context.Context, o *Options, r *Report, u *url.URL, facts *serverFacts) int {
	hu := url.URL{Scheme: "http", Host: u.Host, Path: "/healthz"}
	if u.Scheme == "wss" {
		hu.Scheme = "https"
	}
	client := &http.Client{Timeout: o.Timeout, Transport: &http.Transport{TLSClientConfig: o.TLSConfig, Proxy: http.ProxyFromEnvironment}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hu.String(), nil)
	if err != nil {
		r.add(GroupServer, "healthz", StatusFail, err.Error(), notVtpeerFix)
		return 0
	}
	sent := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		r.add(GroupServer, "healthz", StatusFail, fmt.Sprintf("GET %s: %v", hu.String(), err), notVtpeerFix)
		return 0
	}
	defer resp.Body.Close()
	got := time.Now()
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		facts.date, facts.rtt, facts.localAt = d, got.Sub(sent), sent.Add(got.Sub(sent)/2)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var h health
	jerr := json.Unmarshal(body, &h)
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable && jerr == nil && h.Status == "closing":
		r.add(GroupServer, "healthz", StatusWarn, "the server is shutting down", "wait for it to restart, or ask its operator")
	case resp.StatusCode != http.StatusOK || jerr != nil || h.Status != "ok" || h.Version <= 0:
		r.add(GroupServer, "healthz", StatusFail,
			fmt.Sprintf("GET /healthz answered %s (%s), not vtpeer's JSON: this is not a vtpeer signaling server", resp.Status, contentType(resp)), notVtpeerFix)
		return 0
	default:
		r.add(GroupServer, "healthz", StatusOK, fmt.Sprintf("status ok, protocol v%d, %d connections, %d rooms", h.Version, h.Connections, h.Rooms), "")
	}
	return h.Version
}

func contentType(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "no Content-Type"
}

// checkJoin dials the WebSocket, joins a fresh room and leaves it.
func checkJoin(ctx context.Context, o *Options, r *Report, healthVersion int, facts *serverFacts) {
	c, err := signal.Dial(ctx, o.Server, &signal.ClientOptions{Token: o.Token, HandshakeTimeout: o.Timeout})
	if err != nil {
		r.add(GroupServer, "websocket", StatusFail, err.Error(),
			"make sure --server names a vtpeer signaling endpoint (/ or /ws) and that a proxy in front forwards WebSocket upgrades (Upgrade and Connection headers)")
		r.add(GroupServer, "protocol", StatusSkip, "needs websocket", "")
		r.add(GroupServer, "token", StatusSkip, "needs websocket", "")
		return
	}
	defer c.Close()
	room := o.Room
	if room == "" {
		room = randomRoom()
	}
	jctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	j, err := c.Join(jctx, room)
	var se *signal.ServerError
	switch {
	case errors.As(err, &se) && se.Code == signal.CodeUnauthorized:
		r.add(GroupServer, "websocket", StatusOK, "connected; the join was refused for its token (see token)", "")
		r.add(GroupServer, "protocol", StatusSkip, "needs a join", "")
		if o.Token == "" {
			r.add(GroupServer, "token", StatusWarn, "the server requires a token: "+se.Message,
				"pass --token or set VTPEER_TOKEN (the server's operator mints one with `vtpeer token`)")
		} else {
			r.add(GroupServer, "token", StatusFail, "the server refused the token: "+se.Message,
				"get a fresh token for this server: its audience, room and expiry must match")
		}
		return
	case err != nil:
		r.add(GroupServer, "websocket", StatusFail, fmt.Sprintf("join %s: %v", room, err), "see the server's log for the reason, or try again when it is less busy")
		r.add(GroupServer, "protocol", StatusSkip, "needs a join", "")
		r.add(GroupServer, "token", StatusSkip, "needs a join", "")
		return
	}
	if err := c.Send(jctx, signal.Frame{Type: signal.TypeLeave, Room: room}); err != nil {
		r.add(GroupServer, "websocket", StatusWarn, fmt.Sprintf("joined %s as %s but could not leave: %v", room, j.PeerID, err), "see the server's log")
	} else {
		r.add(GroupServer, "websocket", StatusOK, fmt.Sprintf("joined room %s as peer %s and left", room, j.PeerID), "")
	}
	facts.joined, facts.ice = true, j.ICEServers

	v := j.V
	if v == 0 {
		v = healthVersion
	}
	switch {
	case v == 0:
		r.add(GroupServer, "protocol", StatusWarn, "the server did not say which protocol version it speaks", "update the server to a current vtpeer")
	case v > signal.ProtocolVersion:
		r.add(GroupServer, "protocol", StatusWarn, fmt.Sprintf("server speaks v%d, this vtpeer v%d", v, signal.ProtocolVersion), "update this vtpeer")
	default:
		r.add(GroupServer, "protocol", StatusOK, fmt.Sprintf("v%d (this vtpeer speaks v%d)", v, signal.ProtocolVersion), "")
	}
	if o.Token != "" {
		r.add(GroupServer, "token", StatusOK, "the token was accepted", "")
	} else {
		r.add(GroupServer, "token", StatusOK, "the server requires no token", "")
	}
}
