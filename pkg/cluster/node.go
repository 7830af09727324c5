package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NodeOptions configure an embedded NATS server (StartNode). A nil
// *NodeOptions, and every zero field, means the documented default.
type NodeOptions struct {
	// Name is the server's name, unique in the cluster (default: the one
	// kept in StoreDir, or random on its first start or without StoreDir).
	Name string
	// ClusterName names the cluster every node must share (default
	// "vtpeer").
	ClusterName string
	// ClusterListen is the HOST:PORT the node listens on for routes from
	// the other nodes. Empty (the default): the node is alone and listens
	// on nothing at all.
	ClusterListen string
	// Routes are the nats://HOST:PORT route URLs of the other nodes (this
	// node's own may be among them). Needs ClusterListen.
	Routes []string
	// StoreDir is the node's store: JetStream's files, and the server
	// name, kept so that a restarted node comes back as the same JetStream
	// peer holding its replicas. StartNode creates it if needed and locks
	// it (ErrStoreLocked while another process runs a node on it). Empty:
	// a temporary directory with a random name, removed by Close.
	StoreDir string
	// CompactEvery is how often the node looks at the Raft logs of the
	// memory-storage streams it holds a replica of (the room bucket) and
	// compacts those whose writes have settled (compact.go). Default 1s;
	// negative: never, leaving it to nats-server's own schedule (8 MiB or
	// 65,536 entries applied, or every 2 to 3 minutes).
	CompactEvery time.Duration
	// Logger receives the server's warnings and errors. Nil: discard.
	Logger *slog.Logger
}

// EmbeddedNode is a NATS server running in this process: JetStream on,
// clients connected in-process, and no listener at all unless clustered
// (then the route listener, and a client listener on a random loopback
// port that nats-server needs before it starts routing).
type EmbeddedNode struct {
	srv      *server.Server
	storeDir string
	tempDir  string
	unlock   func() // releases StoreDir's lock; nil for a temporary store
	log      *slog.Logger
	done     chan struct{} // closed by Close: stops compactLoop
	wg       sync.WaitGroup

	healthMu  sync.Mutex
	caughtUp  bool      // JetStream was healthy once since the start
	lastCheck time.Time // of the last unhealthy answer (checks are rate-limited)
	lastWhy   error
}

// caughtUpEvery bounds how often CaughtUp asks nats-server while it is
// not caught up (every join asks it then).
const caughtUpEvery = 250 * time.Millisecond

// CaughtUp reports nil once the node's JetStream has been healthy at least
// once since the node started: it reached the meta leader and every stream
// and consumer with a replica here is current with its leader (what
// nats-server's /healthz checks). Before that it says why not: a node
// restarted on its store serves stale room state and its votes do not count
// until it has caught up. It stays nil afterwards (a later election on a
// live cluster is not a reason to turn clients away: Cluster.Ready judges
// that).
func (n *EmbeddedNode) CaughtUp() error {
	n.healthMu.Lock()
	defer n.healthMu.Unlock()
	if n.caughtUp {
		return nil
	}
	if time.Since(n.lastCheck) < caughtUpEvery && n.lastWhy != nil {
		return n.lastWhy
	}
	h := n.srv.Healthz(&server.HealthzOptions{})
	if h.Status == "ok" && h.Error == "" && len(h.Errors) == 0 {
		n.caughtUp = true
		n.log.Info("nats node caught up with its cluster")
		return nil
	}
	why := h.Error
	if why == "" && len(h.Errors) > 0 {
		why = h.Errors[0].Error
	}
	n.lastCheck, n.lastWhy = time.Now(), fmt.Errorf("catching up with the cluster since its start: %s", why)
	return n.lastWhy
}

// StartNode starts an embedded NATS server and waits until it accepts
// connections or ctx ends.
func StartNode(ctx context.Context, opts *NodeOptions) (*EmbeddedNode, error) {
	var o NodeOptions
	if opts != nil {
		o = *opts
	}
	if o.ClusterName == "" {
		o.ClusterName = "vtpeer"
	}
	if len(o.Routes) > 0 && o.ClusterListen == "" {
		return nil, fmt.Errorf("%w: routes need a cluster listen address", ErrBadOptions)
	}
	if o.CompactEvery == 0 {
		o.CompactEvery = time.Second
	}
	n := &EmbeddedNode{log: o.Logger, done: make(chan struct{})}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if o.StoreDir == "" {
		if o.Name == "" {
			o.Name = "vtpeer-" + randomID()
		}
		d, err := os.MkdirTemp("", "vtpeer-nats-")
		if err != nil {
			return nil, fmt.Errorf("jetstream store: %w", err)
		}
		o.StoreDir, n.tempDir = d, d
	} else {
		name, unlock, err := openStore(o.StoreDir, o.Name)
		if err != nil {
			return nil, err
		}
		o.Name, n.unlock = name, unlock
	}
	so := &server.Options{
		ServerName: o.Name,
		DontListen: true,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      o.Logger == nil,
		// The room bucket and the mailbox stream are on disk (file
		// storage); memory streams, which vtpeer does not make, get this.
		JetStreamMaxMemory: 256 << 20,
	}
	if o.ClusterListen != "" {
		host, port, err := splitHostPort(o.ClusterListen)
		if err != nil {
			n.cleanup()
			return nil, err
		}
		so.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: host, Port: port}
		// nats-server starts routing only once its client listener is up,
		// which DontListen never opens (server.go: StartRouting waits on
		// clientListenReady): a clustered node listens for clients on a
		// random loopback port, which vtpeer itself does not use.
		so.DontListen, so.Host, so.Port = false, "127.0.0.1", server.RANDOM_PORT
		for _, r := range o.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Scheme != "nats" || u.Host == "" {
				n.cleanup()
				return nil, fmt.Errorf("%w: route %q: want nats://HOST:PORT", ErrBadOptions, r)
			}
			so.Routes = append(so.Routes, u)
		}
	}
	n.storeDir = o.StoreDir
	srv, err := server.NewServer(so)
	if err != nil {
		n.cleanup()
		return nil, fmt.Errorf("nats server: %w", err)
	}
	if o.Logger != nil {
		// nats-server's debug lines (Raft elections, peers, routes) when
		// the logger takes debug records: how a cluster's failures are read.
		debug := o.Logger.Enabled(ctx, slog.LevelDebug)
		srv.SetLoggerV2(slogLogger{o.Logger.With("component", "nats")}, debug, false, false)
	}
	n.srv = srv
	srv.Start()
	deadline := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if !srv.ReadyForConnections(deadline) {
		n.Close()
		return nil, fmt.Errorf("%w within %s", ErrNotReady, deadline)
	}
	if o.CompactEvery > 0 {
		n.wg.Go(func() { n.compactLoop(o.CompactEvery) })
	}
	return n, nil
}

// Connect returns a client connected in-process to the node.
func (n *EmbeddedNode) Connect(opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect("", append([]nats.Option{nats.InProcessServer(n.srv)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to the embedded nats server: %w", err)
	}
	return nc, nil
}

// ClusterAddr is the address the node takes routes on, nil when alone.
func (n *EmbeddedNode) ClusterAddr() net.Addr { return n.srv.ClusterAddr() }

// StoreDir is the node's store directory (a temporary one when
// NodeOptions.StoreDir was empty).
func (n *EmbeddedNode) StoreDir() string { return n.storeDir }

// Name is the server's name.
func (n *EmbeddedNode) Name() string { return n.srv.Name() }

// Close shuts the server down, removes its temporary store or unlocks
// its StoreDir.
func (n *EmbeddedNode) Close() {
	select {
	case <-n.done:
	default:
		close(n.done)
	}
	n.wg.Wait()
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
	n.cleanup()
}

func (n *EmbeddedNode) cleanup() {
	if n.tempDir != "" {
		_ = os.RemoveAll(n.tempDir)
	}
	if n.unlock != nil {
		n.unlock()
		n.unlock = nil
	}
}

func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("%w: cluster listen %q: %v", ErrBadOptions, hp, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%w: cluster listen %q: bad port", ErrBadOptions, hp)
	}
	if port == 0 {
		port = -1 // nats-server: -1 picks a free port, 0 means the default 6222
	}
	return host, port, nil
}

// randomID returns 64 random bits in hex.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// slogLogger sends nats-server's log lines to slog.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s slogLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s slogLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s slogLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s slogLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s slogLogger) Tracef(format string, v ...any)  {}
