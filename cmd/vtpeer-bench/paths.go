package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/turnserver"
)

// benchPathsBody is the message body of the bulk runs on every path: its
// sealed frame (32 KiB + 47 B) fits the server relay's RelayMaxFrame
// (40 KiB), the smallest limit of the three, so the paths carry the same
// messages and their figures compare.
const benchPathsBody = 32 << 10

type benchPathsOptions struct {
	rounds  int
	bytes   byteSize
	capped  byteSize
	timeout time.Duration
}

// newBenchPathsCmd measures time-to-connect and bulk throughput over the
// direct, TURN and server-relay paths, in one process and one run.
func newBenchPathsCmd(g *globals) *cobra.Command {
	o := &benchPathsOptions{rounds: 3, bytes: 16 << 20, capped: 4 << 20}
	cmd := &cobra.Command{
		Use:   "paths",
		Short: "Benchmark time-to-connect and bulk throughput over direct, TURN and the server relay",
		Long: `Starts, on loopback and in this process, a signaling server and an embedded
TURN server (bandwidth cap off) whose credentials the signaling server hands
out, then for each path (direct, turn, server), --rounds times with the order
rotated every round, joins two peers to a fresh room as 'vtpeer join'
does (--ice-loopback, --via PATH) and measures:

  connect  from starting the second peer (dial, join, Node) until both
           report PeerConnected (ICE, DTLS, SCTP or the relay, seal handshake)
  bulk     --bytes of 32 KiB messages one way, until all are received
           (MB/s of message body, 1 MB = 10^6 bytes)

The signaling server's relay byte budget (RelayRate, 1 MiB/s per connection
in production) would cap the server path, so it is lifted for the rounds;
one more server-relay run of --capped-bytes against a second signaling server
with the default budget shows the production cap (0 skips it).`,
		Example: `  vtpeer-bench paths
  vtpeer-bench paths --rounds 5 --bytes 32MiB --capped-bytes 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.rounds < 1 || o.bytes < benchPathsBody || o.timeout <= 0 {
				return usageError(errors.New("--rounds must be ≥ 1, --bytes ≥ 32KiB and --timeout positive"))
			}
			return runBenchPaths(cmd.Context(), g, cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.rounds, "rounds", o.rounds, "measurements per path, interleaved: each round runs every path, starting with the next one")
	f.Var(&o.bytes, "bytes", "bytes of message body sent per bulk run (e.g. 16MiB, 256KiB)")
	f.Var(&o.capped, "capped-bytes", "bytes of the one server-relay run under the default relay budget (0: skip it)")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "limit for one connect plus bulk run")
	return cmd
}

// benchEnv is a signaling server (and optionally a TURN server) on loopback.
type benchEnv struct {
	url  string
	turn *turnserver.Server
	reg  *prometheus.Registry // the TURN server's metrics
	stop func()
}

// startBenchEnv starts the servers. relayRate is the signaling server's
// relay byte budget per connection (0: the production default).
func startBenchEnv(relayRate rate.Limit, withTURN bool) (*benchEnv, error) {
	env := &benchEnv{reg: prometheus.NewRegistry()}
	opts := &signal.ServerOptions{RelayRate: relayRate, MaxConnsPerIP: -1}
	if withTURN {
		ts, err := turnserver.New(&turnserver.Options{Addr: "127.0.0.1:0", AllowLoopback: true,
			UserBandwidth: -1, MaxAllocationsPerUser: -1, Registry: env.reg})
		if err != nil {
			return nil, fmt.Errorf("start turn: %w", err)
		}
		env.turn = ts
		opts.ICEServers = func(peerID string) []signal.ICEServer {
			user, pass := ts.Credentials(peerID, time.Hour, time.Now())
			return []signal.ICEServer{{URLs: ts.URLs(), Username: user, Credential: pass}}
		}
	}
	srv, err := signal.NewServer(opts)
	if err == nil {
		var stopHTTP func()
		if env.url, stopHTTP, err = listenLoopback(srv); err == nil {
			env.stop = func() { stopHTTP(); _ = srv.Close(); env.closeTURN() }
			return env, nil
		}
		_ = srv.Close()
	}
	env.closeTURN()
	return nil, err
}

func (e *benchEnv) closeTURN() {
	if e.turn != nil {
		_ = e.turn.Close()
	}
}

// turnRelayed is the payload the TURN server has relayed towards peers so
// far, in bytes. With both peers on relay candidates a packet is counted
// once: to_peer when it leaves the sender's allocation (the receiver's
// allocation counts it again as from_peer).
func (e *benchEnv) turnRelayed() float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == "vtpeer_turn_relayed_bytes_total" {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "direction" && l.GetValue() == "to_peer" {
						sum += m.GetCounter().GetValue()
					}
				}
			}
		}
	}
	return sum
}

// pathResult is one measurement of one path.
type pathResult struct {
	connect time.Duration
	mbps    float64
	path    string // as PeerConnected reports it
	cand    string // local candidate type of the selected pair
	turnMiB float64
	status  string // signaling errors and reconnects seen, "" if none
}

func runBenchPaths(ctx context.Context, g *globals, out io.Writer, o *benchPathsOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	env, err := startBenchEnv(rate.Inf, true)
	if err != nil {
		return err
	}
	defer env.stop()
	paths := []string{peer.ViaDirect, peer.ViaTURN, peer.ViaServer}
	fmt.Fprintf(out, "bench paths: %d rounds, %s of %d KiB messages per bulk run, loopback only\n",
		o.rounds, o.bytes.String(), benchPathsBody>>10)
	fmt.Fprintln(out, "signaling relay budget: unlimited for the rounds (production default RelayRate 1 MiB/s per connection); TURN bandwidth cap: off")
	fmt.Fprintf(out, "%-6s %-7s %12s %12s  %s\n", "round", "path", "connect ms", "bulk MB/s", "pair")
	res := make(map[string][]pathResult, len(paths))
	for r := range o.rounds {
		for k := range paths {
			via := paths[(r+k)%len(paths)]
			pr, err := measurePath(ctx, env, log, via, fmt.Sprintf("bench-%s-%d", via, r+1), int(o.bytes), o.timeout)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, via, err)
			}
			res[via] = append(res[via], pr)
			printPathRow(out, strconv.Itoa(r+1), via, pr)
		}
	}
	printPathSummary(out, paths, res)
	if o.capped == 0 {
		return nil
	}
	return runCappedRelay(ctx, log, out, o)
}

// runCappedRelay measures the server relay once under the production relay
// budget, against a second signaling server started for it.
func runCappedRelay(ctx context.Context, log *slog.Logger, out io.Writer, o *benchPathsOptions) error {
	env, err := startBenchEnv(0, false)
	if err != nil {
		return err
	}
	defer env.stop()
	fmt.Fprintf(out, "\nserver relay under the default relay budget (RelayRate 1 MiB/s, RelayBurst 256 KiB), one run of %s:\n", o.capped.String())
	pr, err := measurePath(ctx, env, log, peer.ViaServer, "bench-capped", int(o.capped), o.timeout)
	if err != nil {
		fmt.Fprintf(out, "capped  server  failed: %v\n", err)
		return nil // the capped run documents the cap; its failure is a finding, not a bench error
	}
	printPathRow(out, "capped", peer.ViaServer, pr)
	return nil
}

func printPathRow(out io.Writer, round, via string, pr pathResult) {
	pair := pr.path
	if pr.cand != "" {
		pair += ", local " + pr.cand
	}
	if via == peer.ViaTURN {
		pair += fmt.Sprintf(", TURN relayed %.1f MiB", pr.turnMiB)
	}
	if pr.status != "" {
		pair += ", signaling: " + pr.status
	}
	fmt.Fprintf(out, "%-6s %-7s %12.1f %12.1f  %s\n", round, via, ms(pr.connect), pr.mbps, pair)
}

// printPathSummary prints the medians over rounds, each round, and the
// median of the per-round ratios to direct.
func printPathSummary(out io.Writer, paths []string, res map[string][]pathResult) {
	fmt.Fprintf(out, "\n%-7s %-36s %8s  %-36s %8s\n", "path", "connect ms: median (rounds)", "×direct", "bulk MB/s: median (rounds)", "×direct")
	direct := res[peer.ViaDirect]
	for _, via := range paths {
		var conn, bulk, connR, bulkR []float64
		for i, pr := range res[via] {
			conn = append(conn, ms(pr.connect))
			bulk = append(bulk, pr.mbps)
			connR = append(connR, ms(pr.connect)/ms(direct[i].connect))
			bulkR = append(bulkR, pr.mbps/direct[i].mbps)
		}
		fmt.Fprintf(out, "%-7s %-36s %7.2f×  %-36s %7.2f×\n", via, medianAndRounds(conn), median(connR), medianAndRounds(bulk), median(bulkR))
	}
	fmt.Fprintln(out, "(×direct: median over rounds of the ratio to the direct run of the same round)")
}

func medianAndRounds(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return fmt.Sprintf("%.1f (%s)", median(v), strings.Join(parts, " / "))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// measurePath joins two fresh peers to room over via, times their connect,
// then sends size bytes of body from the second to the first.
func measurePath(ctx context.Context, env *benchEnv, log *slog.Logger, via, room string, size int, timeout time.Duration) (pathResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var tally statusTally
	a, err := joinBench(ctx, env.url, room, via, log, &tally)
	if err != nil {
		return pathResult{}, err
	}
	defer a.Close()
	start := time.Now()
	b, err := joinBench(ctx, env.url, room, via, log, &tally)
	if err != nil {
		return pathResult{}, err
	}
	defer b.Close()
	ca, _, err := awaitConnected(ctx, a, b)
	if err != nil {
		return pathResult{}, fmt.Errorf("connect: %w", err)
	}
	pr := pathResult{connect: time.Since(start), path: ca.Path, cand: ca.CandidateType}
	if pr.path != via {
		return pr, fmt.Errorf("connected over %q, want %q", pr.path, via)
	}
	relayed := env.turnRelayed()
	elapsed, sent, err := bulkSend(ctx, b, a, a.self, size)
	if err != nil {
		return pr, fmt.Errorf("bulk: %w (%s)", err, tally.String())
	}
	pr.mbps = float64(sent) / elapsed.Seconds() / 1e6
	pr.turnMiB = (env.turnRelayed() - relayed) / (1 << 20)
	pr.status = tally.String()
	return pr, nil
}

// awaitConnected waits for PeerConnected on both sessions; a's is returned
// first.
func awaitConnected(ctx context.Context, a, b *benchPeer) (peer.PeerConnected, peer.PeerConnected, error) {
	var ca, cb *peer.PeerConnected
	for ca == nil || cb == nil {
		var e peer.Event
		var ok bool
		select {
		case e, ok = <-a.node.Events():
			if c, is := e.(peer.PeerConnected); is {
				ca = &c
			}
		case e, ok = <-b.node.Events():
			if c, is := e.(peer.PeerConnected); is {
				cb = &c
			}
		case <-ctx.Done():
			return peer.PeerConnected{}, peer.PeerConnected{}, ctx.Err()
		}
		if !ok {
			return peer.PeerConnected{}, peer.PeerConnected{}, errors.New("node closed")
		}
		if pe, is := e.(peer.Error); is {
			return peer.PeerConnected{}, peer.PeerConnected{}, fmt.Errorf("%s: %w", pe.Code, pe.Err)
		}
	}
	return *ca, *cb, nil
}

// bulkSend sends size bytes of body (rounded up to whole messages) from one
// session to peer id to, and returns the time until the receiver has them
// all and the body bytes sent.
func bulkSend(ctx context.Context, from, to *benchPeer, toID string, size int) (time.Duration, int, error) {
	n := (size + benchPathsBody - 1) / benchPathsBody
	ctx, cancel := context.WithCancel(ctx)
	sendErr := make(chan error, 1)
	defer func() { cancel(); <-sendErr }()
	msg := make([]byte, benchPathsBody)
	start := time.Now()
	go func() {
		for range n {
			if err := from.node.Send(ctx, toID, "bulk", msg); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	for got := 0; got < n; {
		select {
		case e, ok := <-to.node.Events():
			switch e := e.(type) {
			case peer.Message:
				got++
			case peer.Error:
				return 0, 0, fmt.Errorf("receiver: %s: %w", e.Code, e.Err)
			case peer.PeerLeft:
				return 0, 0, fmt.Errorf("receiver: peer left (%s)", e.Reason)
			}
			if !ok {
				return 0, 0, errors.New("receiver closed")
			}
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("%w after %d of %d messages", ctx.Err(), got, n)
		}
	}
	return time.Since(start), n * benchPathsBody, nil
}

// statusTally counts the signaling errors and reconnects of a measurement.
type statusTally struct {
	mu sync.Mutex
	n  map[string]int
}

func (t *statusTally) add(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = make(map[string]int)
	}
	t.n[key]++
}

func (t *statusTally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts := make([]string, 0, len(t.n))
	for k, v := range t.n {
		parts = append(parts, fmt.Sprintf("%d× %s", v, k))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// byteSize is a flag value in bytes: 1048576, 256KiB, 16MiB, 1GiB.
type byteSize int64

func (b *byteSize) String() string {
	switch v := int64(*b); {
	case v != 0 && v%(1<<20) == 0:
		return strconv.FormatInt(v>>20, 10) + "MiB"
	case v != 0 && v%(1<<10) == 0:
		return strconv.FormatInt(v>>10, 10) + "KiB"
	default:
		return strconv.FormatInt(v, 10)
	}
}

func (b *byteSize) Set(s string) error {
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = v, u.mult
			break
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || v < 0 || v > (1<<40)/mult {
		return fmt.Errorf("%q: want a byte count such as 262144, 256KiB or 16MiB", s)
	}
	*b = byteSize(v * mult)
	return nil
}

func (b *byteSize) Type() string { return "bytes" }
