package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/turnserver"
	"github.com/verytippers/vtpeer/pkg/web"
)

// serveOptions are the flags of vtpeer serve.
type serveOptions struct {
	addr          string
	maxFrame      int64
	maxMembers    int
	maxRooms      int
	maxConnsPerIP int
	maxPending    int
	maxPendingIP  int
	rate          float64
	burst         int
	sendQueue     int
	allowOrigins  []string
	jwtSecretFile string
	jwtPublicKey  string
	jwtAudience   string
	jwtLeeway     time.Duration
	tlsCert       string
	tlsKey        string
	noWeb         bool
	webSignal     []string
	turn          turnFlags
	mail          mailFlags
	cluster       clusterFlags
}

// turnFlags configure the embedded TURN server and the ICE servers told to
// joined peers.
type turnFlags struct {
	enabled       bool
	addr          string
	altPort       int
	publicIP      string
	secretFile    string
	realm         string
	allowLoopback bool
	ttl           time.Duration
	maxAllocs     int
	bandwidth     int64
	iceServers    []string
}

// newServeCmd runs the signaling server.
func newServeCmd(g *globals) *cobra.Command {
	o := &serveOptions{}
	addr := ":8080"
	if g.getenv != nil {
		if p := g.env("PORT", ""); p != "" {
			addr = ":" + p
		}
	}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the signaling server",
		Long: `Run the WebSocket signaling server that introduces peers. The existing
VeryTippers browser client connects to it unchanged at / (also served at /ws).
A plain GET of / or /p2p serves the VeryTippers P2P page (embedded; --no-web
turns it off); WebSocket upgrades at / keep reaching signaling.
/healthz answers JSON, /readyz 503 while the node cannot take joins (it lost
its cluster), /metrics Prometheus metrics. SIGINT or SIGTERM shuts it
down gracefully: clients get a going-away close.

With --turn it also runs a TURN server (UDP and TCP on --turn-addr) and hands
every joined peer short-lived credentials for it in joined.iceServers
(username "<expiry>:<peerId>", credential base64(HMAC-SHA1(secret, username))).
The URLs name --turn-public-ip, else the --turn-addr IP, else (wildcard) the
local address of the default route. With --ice-server turn: URLs and
--turn-secret-file, peers get the same kind of credentials for a coturn
configured with use-auth-secret and that secret. See docs/TURN.md.`,
		Example: `  vtpeer serve
  PORT=9000 vtpeer serve --allow-origin app.verytippers.com
  vtpeer serve --addr :443 --tls-cert cert.pem --tls-key key.pem --jwt-secret-file secret
  vtpeer serve --turn --turn-public-ip 203.0.113.7 --turn-secret-file turn.secret
  vtpeer serve --ice-server turn:turn.example.org:3478?transport=udp --turn-secret-file coturn.secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", addr, "listen address (:$PORT when PORT is set)")
	f.Int64Var(&o.maxFrame, "max-frame", signal.DefaultMaxFrame, "largest frame in bytes; larger ones close the connection with 1009")
	f.IntVar(&o.maxMembers, "max-members", 8, "members per room")
	f.IntVar(&o.maxRooms, "max-rooms", 10000, "rooms on the server")
	f.IntVar(&o.maxConnsPerIP, "max-conns-per-ip", 64, "concurrent connections per remote IP (negative: no cap)")
	f.IntVar(&o.maxPending, "max-pending-conns", 1024, "connections not yet upgraded to WebSockets (stalled, /healthz, /metrics), over all IPs; at the cap the oldest idle one is cut (negative: no cap)")
	f.IntVar(&o.maxPendingIP, "max-pending-conns-per-ip", 32, "connections not yet upgraded, per remote IP; more are cut at once (negative: no cap)")
	f.Float64Var(&o.rate, "rate", 20, "frames per second per connection")
	f.IntVar(&o.burst, "burst", 40, "frames a connection may send in a burst")
	f.IntVar(&o.sendQueue, "send-queue-bytes", signal.DefaultSendQueueBytes, "bytes waiting for one client above which the members sending to it are slowed down (never dropped)")
	f.StringArrayVar(&o.allowOrigins, "allow-origin", nil, `accept browsers only from this origin (host pattern like app.example.com or *.example.com, or a whole origin like http://localhost:5173; repeatable; default: any origin)`)
	f.StringVar(&o.jwtSecretFile, "jwt-secret-file", "", "require HS256 tokens signed with the secret in this file")
	f.StringVar(&o.jwtPublicKey, "jwt-public-key", "", "require EdDSA/ES256 tokens verified with this PEM public key")
	f.StringVar(&o.jwtAudience, "jwt-audience", signal.DefaultAudience, "audience tokens must carry")
	f.DurationVar(&o.jwtLeeway, "jwt-leeway", signal.DefaultLeeway, "clock skew allowed on a token's exp and nbf (0s: none; at most 1h); exp is checked at every join")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate (PEM) to serve wss://")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key (PEM)")
	f.BoolVar(&o.noWeb, "no-web", false, "do not serve the P2P page at / and /p2p (only signaling, /healthz and /metrics)")
	f.StringSliceVar(&o.webSignal, "web-signal", nil, "comma-separated ws:// or wss:// signaling URLs the page connects to, in order, failing over to the next (the cluster's nodes; default: this server)")
	o.turn.bind(cmd)
	o.mail.bind(cmd, g)
	o.cluster.bind(cmd, g)
	return cmd
}

func (t *turnFlags) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&t.enabled, "turn", false, "run an embedded TURN server beside signaling; joined peers get credentials for it")
	f.StringVar(&t.addr, "turn-addr", turnserver.DefaultAddr, "TURN listen address, UDP and TCP on the same port")
	f.IntVar(&t.altPort, "turn-alt-port", 0, "a second UDP port the embedded TURN server answers STUN on, handed out as a stun: URL, so that `vtpeer doctor` can tell a symmetric NAT from an endpoint-independent one (0: none)")
	f.StringVar(&t.publicIP, "turn-public-ip", "", "public IPv4 address of the TURN server behind NAT (default: the --turn-addr IP, or for a wildcard the local address of the default route)")
	f.StringVar(&t.secretFile, "turn-secret-file", "", "shared secret of the TURN REST credentials (default: random per process; required for --ice-server turn: URLs)")
	f.StringVar(&t.realm, "turn-realm", turnserver.DefaultRealm, "TURN realm")
	f.BoolVar(&t.allowLoopback, "turn-allow-loopback", false, "let TURN relay to loopback and private addresses (tests and single-host setups only)")
	f.DurationVar(&t.ttl, "turn-ttl", 24*time.Hour, "lifetime of the TURN credentials handed out; a relay cannot be refreshed past it")
	f.IntVar(&t.maxAllocs, "turn-max-allocations", turnserver.DefaultMaxAllocationsPerUser, "concurrent TURN allocations per peer (negative: no cap)")
	f.Int64Var(&t.bandwidth, "turn-user-bandwidth", turnserver.DefaultUserBandwidth, "bytes per second one peer may relay through TURN (negative: no cap)")
	f.StringArrayVar(&t.iceServers, "ice-server", nil, "STUN or TURN URL told to joined peers, e.g. turn:turn.example.org:3478?transport=udp for a coturn with use-auth-secret and the --turn-secret-file secret (repeatable)")
}

func runServe(ctx context.Context, g *globals, o *serveOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageError(errors.New("--tls-cert and --tls-key go together"))
	}
	auth, err := o.verifier()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ice, err := o.turn.start(log, reg)
	if err != nil {
		return err
	}
	defer ice.close(log)
	if err := o.mail.check(); err != nil {
		return err
	}
	rooms, err := o.cluster.start(ctx, log)
	if err != nil {
		return err
	}
	defer rooms.close() // after srv.Close: its members leave first
	mail, closeMail, err := o.mail.open(ctx, log, reg, rooms)
	if err != nil {
		return err
	}
	defer closeMail()
	srv, err := signal.NewServer(&signal.ServerOptions{
		Cluster:              rooms.cl,
		MaxFrame:             o.maxFrame,
		MaxMembers:           o.maxMembers,
		MaxRooms:             o.maxRooms,
		MaxConnsPerIP:        o.maxConnsPerIP,
		MaxPendingConns:      o.maxPending,
		MaxPendingConnsPerIP: o.maxPendingIP,
		Rate:                 rate.Limit(o.rate),
		Burst:                o.burst,
		AllowOrigins:         o.allowOrigins,
		Auth:                 auth,
		ICEServers:           ice.forPeer,
		Mail:                 mail,
		MailRate:             rate.Limit(o.mail.depRate),
		MailBurst:            o.mail.depBurst,
		Logger:               log,
		Registry:             reg,

		SendQueueBytes: o.sendQueue, // back-pressure on senders, see ServerOptions
	})
	if err != nil {
		return usageError(err)
	}
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	mux.Handle("/ws", srv)
	mux.Handle("/healthz", srv.HealthHandler())
	mux.Handle("/readyz", srv.ReadyHandler())
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	var handler http.Handler = mux
	if !o.noWeb {
		page, err := web.NewHandler(&web.Options{Logger: log.With("component", "web"), SignalPath: "/ws", SignalURLs: o.webSignal})
		if errors.Is(err, web.ErrBadOptions) {
			return usageError(fmt.Errorf("--web-signal: %w", err))
		}
		if err != nil {
			return fmt.Errorf("web page: %w", err)
		}
		handler = withPage(mux, page)
	}

	tlsConfig, err := o.loadTLS() // before listening: a bad file is not a running server
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	ln = srv.Listener(ln) // failed Accepts (EMFILE) are counted and logged at warn
	hs := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ConnState:         srv.ConnState, // caps connections not yet upgraded; srv.Close cuts stalled ones
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	log.Info("listening", "addr", ln.Addr().String(), "tls", o.tlsCert != "", "auth", auth != nil, "web", !o.noWeb)
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- hs.ServeTLS(ln, "", "") // the certificate is in hs.TLSConfig
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Shutdown stops accepting and waits for requests in flight; at the same
	// time srv.Close sends every WebSocket client its 1001 (they are
	// hijacked: Shutdown does not see them) and cuts connections that have
	// not sent a request, which Shutdown would otherwise wait for.
	shut := make(chan error, 1)
	go func() { shut <- hs.Shutdown(sctx) }()
	cerr := srv.Close()
	err = <-shut
	<-errc
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// readHeaderTimeout bounds how long a connection may take to send its
// request headers (and, under TLS, its handshake) before it is cut.
const readHeaderTimeout = 5 * time.Second

// withPage puts the P2P page in front of mux: a request without an Upgrade
// header for any path but /ws, /healthz and /metrics goes to the page (which
// answers 404 for names it does not have, 400 for paths that try to leave its
// tree); everything else, WebSocket upgrades at / included, goes to mux as
// without the page. The page sees paths unredirected, so "/../x" is refused
// rather than cleaned.
func withPage(mux *http.ServeMux, page http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ws", "/healthz", "/readyz", "/metrics":
			mux.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Upgrade") != "" {
			mux.ServeHTTP(w, r)
			return
		}
		page.ServeHTTP(w, r)
	})
}

// loadTLS reads the --tls-cert and --tls-key pair, or returns nil without them.
func (o *serveOptions) loadTLS() (*tls.Config, error) {
	if o.tlsCert == "" {
		return nil, nil
	}
	certPEM, err := os.ReadFile(o.tlsCert)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	clear(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s with --tls-key %s: %w", o.tlsCert, o.tlsKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

// verifier builds the JWT verifier the flags ask for, or nil.
func (o *serveOptions) verifier() (*signal.Verifier, error) {
	v, err := o.baseVerifier()
	if v == nil || err != nil {
		return v, err
	}
	if o.jwtLeeway < 0 {
		return nil, usageError(errors.New("--jwt-leeway must not be negative"))
	}
	leeway := o.jwtLeeway
	if leeway == 0 {
		leeway = -1 // none, not the default
	}
	if v, err = v.WithOptions(&signal.VerifierOptions{Leeway: leeway}); err != nil {
		return nil, usageError(fmt.Errorf("--jwt-leeway: %w", err))
	}
	return v, nil
}

// baseVerifier builds the verifier for the key flags, or nil.
func (o *serveOptions) baseVerifier() (*signal.Verifier, error) {
	switch {
	case o.jwtSecretFile != "" && o.jwtPublicKey != "":
		return nil, usageError(errors.New("--jwt-secret-file and --jwt-public-key are exclusive"))
	case o.jwtSecretFile != "":
		secret, err := readSecretFile(o.jwtSecretFile)
		if err != nil {
			return nil, err
		}
		v, err := signal.NewHS256Verifier(secret, o.jwtAudience)
		clear(secret)
		if err != nil {
			return nil, usageError(fmt.Errorf("--jwt-secret-file: %w", err))
		}
		return v, nil
	case o.jwtPublicKey != "":
		pemBytes, err := os.ReadFile(o.jwtPublicKey)
		if err != nil {
			return nil, usageError(fmt.Errorf("--jwt-public-key: %w", err))
		}
		v, err := signal.NewPublicKeyVerifier(pemBytes, o.jwtAudience)
		if err != nil {
			return nil, usageError(fmt.Errorf("--jwt-public-key: %w", err))
		}
		return v, nil
	}
	return nil, nil
}

// iceProvider hands each joined peer its ICE servers, with fresh TURN
// credentials for its peerId.
type iceProvider struct {
	ttl      time.Duration
	turn     *turnserver.Server // embedded, or nil
	secret   []byte             // for the --ice-server turn: URLs
	stunURLs []string
	turnURLs []string
}

// start checks the TURN flags, starts the embedded TURN server when asked
// and returns the provider; its forPeer is nil when there is nothing to
// hand out.
func (t *turnFlags) start(log *slog.Logger, reg prometheus.Registerer) (*iceProvider, error) {
	p := &iceProvider{ttl: t.ttl}
	if t.ttl <= 0 {
		return nil, usageError(errors.New("--turn-ttl must be positive"))
	}
	for _, u := range t.iceServers {
		switch {
		case strings.HasPrefix(u, "stun:") || strings.HasPrefix(u, "stuns:"):
			p.stunURLs = append(p.stunURLs, u)
		case strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:"):
			p.turnURLs = append(p.turnURLs, u)
		default:
			return nil, usageError(fmt.Errorf("--ice-server %q: want a stun:, stuns:, turn: or turns: URL", u))
		}
	}
	var secret []byte
	if t.secretFile != "" {
		var err error
		if secret, err = readSecretFile(t.secretFile); err != nil {
			return nil, err
		}
		if len(secret) < turnserver.MinSecretLen {
			clear(secret)
			return nil, usageError(fmt.Errorf("--turn-secret-file: secret shorter than %d bytes", turnserver.MinSecretLen))
		}
	}
	if len(p.turnURLs) > 0 {
		if secret == nil {
			return nil, usageError(errors.New("--ice-server turn: URLs need --turn-secret-file (the TURN server's shared secret)"))
		}
		p.secret = secret
	}
	if !t.enabled {
		if secret != nil && p.secret == nil {
			clear(secret)
		}
		return p, nil
	}
	var publicIP net.IP
	if t.publicIP != "" {
		if publicIP = net.ParseIP(t.publicIP); publicIP == nil || publicIP.To4() == nil {
			return nil, usageError(fmt.Errorf("--turn-public-ip %q: want an IPv4 address", t.publicIP))
		}
	}
	var altAddr string
	switch {
	case t.altPort < 0 || t.altPort > 65535:
		return nil, usageError(fmt.Errorf("--turn-alt-port %d: want a UDP port, 1 to 65535 (0: none)", t.altPort))
	case t.altPort > 0:
		host, _, err := net.SplitHostPort(t.addr)
		if err != nil {
			return nil, usageError(fmt.Errorf("--turn-addr %q: %w", t.addr, err))
		}
		altAddr = net.JoinHostPort(host, strconv.Itoa(t.altPort))
	}
	ts, err := turnserver.New(&turnserver.Options{
		Addr:                  t.addr,
		AltAddr:               altAddr,
		PublicIP:              publicIP,
		Secret:                secret, // nil: random per process
		Realm:                 t.realm,
		AllowLoopback:         t.allowLoopback,
		MaxAllocationsPerUser: t.maxAllocs,
		UserBandwidth:         t.bandwidth,
		Registry:              reg,
		Logger:                log.With("component", "turn"),
	})
	if p.secret == nil {
		clear(secret) // New keeps its own copy
	}
	switch {
	case errors.Is(err, turnserver.ErrBadOptions) || errors.Is(err, turnserver.ErrNoRelayIP):
		return nil, usageError(fmt.Errorf("--turn: %w", err))
	case err != nil:
		return nil, fmt.Errorf("start turn: %w", err)
	}
	if t.allowLoopback {
		log.Warn("turn relays to loopback and private addresses (--turn-allow-loopback)")
	}
	p.turn = ts
	return p, nil
}

// forPeer is signal.ServerOptions.ICEServers: the embedded TURN server's
// URLs (and its STUN URLs, without credentials), then the --ice-server ones,
// with credentials valid for --turn-ttl.
func (p *iceProvider) forPeer(peerID string) []signal.ICEServer {
	now := time.Now()
	var out []signal.ICEServer
	if p.turn != nil {
		user, pass := p.turn.Credentials(peerID, p.ttl, now)
		out = append(out, signal.ICEServer{URLs: p.turn.URLs(), Username: user, Credential: pass})
		var stun []string
		for _, u := range []string{p.turn.STUNURL(), p.turn.AltSTUNURL()} {
			if u != "" {
				stun = append(stun, u)
			}
		}
		if len(stun) > 0 {
			out = append(out, signal.ICEServer{URLs: stun})
		}
	}
	if len(p.turnURLs) > 0 {
		user, pass := turnserver.Credentials(p.secret, peerID, p.ttl, now)
		out = append(out, signal.ICEServer{URLs: p.turnURLs, Username: user, Credential: pass})
	}
	if len(p.stunURLs) > 0 {
		out = append(out, signal.ICEServer{URLs: p.stunURLs})
	}
	return out
}

// close stops the embedded TURN server and zeroes the secret.
func (p *iceProvider) close(log *slog.Logger) {
	if p.turn != nil {
		if err := p.turn.Close(); err != nil {
			log.Warn("turn close", "err", err)
		}
	}
	clear(p.secret)
}
