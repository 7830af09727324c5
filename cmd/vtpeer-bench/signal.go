package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/signal/sigbench"
)

type benchSignalOptions struct {
	pairs     []int
	duration  time.Duration
	idle      int
	target    string
	serverPID []int
	hubAddr   string
	cpuprof   string
	rounds    int
	cluster   int
	sources   []string
	hold      time.Duration
}

// newBenchSignalCmd benchmarks the signaling server against a bare
// coder/websocket hub started in the same run.
func newBenchSignalCmd(g *globals) *cobra.Command {
	o := &benchSignalOptions{}
	cmd := &cobra.Command{
		Use:   "signal",
		Short: "Benchmark the signaling server beside a bare coder/websocket hub",
		Long: `Without --idle: starts a vtpeer signaling server and a bare coder/websocket
relay hub on loopback and measures frames relayed per second A→server→B and
p50/p99 latency, one frame in flight per pair, for each --pairs value.
--rounds N repeats each comparison N times, alternating which server goes
first, and prints the median ratio. --cluster N instead runs N clustered
vtpeer servers (embedded NATS nodes on loopback) and compares pairs whose
ends are on different nodes with pairs on one node, in the same run.

With --idle N --target URL --server-pid PID: opens N idle connections (8 per
room) to a server running in another process and reports its RSS growth per
connection. --hub ADDR runs the bare hub as such a process.`,
		Example: `  vtpeer-bench signal --pairs 1,50 --duration 3s
  vtpeer-bench signal --pairs 1,50 --duration 3s --rounds 5
  vtpeer serve --addr 127.0.0.1:9000 --max-conns-per-ip -1 --max-rooms 100000 &
  vtpeer-bench signal --idle 15000 --target ws://127.0.0.1:9000/ --server-pid $!
  vtpeer-bench signal --cluster 3 --pairs 1,50 --duration 3s --rounds 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.hubAddr != "":
				return runBareHub(cmd.Context(), g, o.hubAddr)
			case o.cluster != 0 && o.idle == 0:
				return runBenchCluster(cmd, o)
			case o.idle > 0:
				if o.target == "" || len(o.serverPID) == 0 {
					return usageError(errors.New("--idle needs --target and --server-pid"))
				}
				return runBenchIdle(cmd, o)
			default:
				return runBenchRelay(cmd, o)
			}
		},
	}
	f := cmd.Flags()
	f.IntSliceVar(&o.pairs, "pairs", []int{1, 50}, "numbers of concurrent sender/receiver pairs")
	f.DurationVar(&o.duration, "duration", 3*time.Second, "length of each relay run")
	f.IntVar(&o.rounds, "rounds", 1, "relay runs per server and --pairs value, alternating which server goes first; the median ratio is reported")
	f.IntVar(&o.idle, "idle", 0, "open this many idle connections to --target")
	f.StringVar(&o.target, "target", "", "server URL for --idle; comma-separated URLs spread the connections over several servers (each room over all of them)")
	f.IntSliceVar(&o.serverPID, "server-pid", nil, "process whose RSS --idle measures (comma-separated, one per --target)")
	f.StringVar(&o.hubAddr, "hub", "", "run the bare hub on this address until interrupted")
	f.IntVar(&o.cluster, "cluster", 0, "relay runs across a cluster of this many embedded NATS nodes (2-5) in this process: pairs with both ends on one node against pairs split over two nodes")
	f.StringSliceVar(&o.sources, "source-addrs", nil, "comma-separated local addresses --idle connects from, in turn (loopback has about 28,000 ephemeral ports per source address and destination)")
	f.DurationVar(&o.hold, "hold", 0, "--idle: keep the connections open this long after reporting (several bench processes then add up past one process's file limit)")
	f.StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile of the relay runs (servers and clients) to this file")
	return cmd
}

func listenLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { _ = hs.Serve(ln); close(done) }()
	return "ws://" + ln.Addr().String() + "/", func() { _ = hs.Close(); <-done }, nil
}

func runBenchRelay(cmd *cobra.Command, o *benchSignalOptions) error {
	stop, err := startCPUProfile(o.cpuprof)
	if err != nil {
		return err
	}
	defer stop()
	srv, err := signal.NewServer(&signal.ServerOptions{Rate: rate.Inf, Burst: 1, MaxConnsPerIP: -1, MaxRooms: 1 << 20})
	if err != nil {
		return err
	}
	defer srv.Close()
	vURL, stopV, err := listenLoopback(srv)
	if err != nil {
		return err
	}
	defer stopV()
	bURL, stopB, err := listenLoopback(sigbench.NewBareHub())
	if err != nil {
		return err
	}
	defer stopB()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "%-8s %-6s %12s %10s %10s\n", "server", "pairs", "frames/s", "p50", "p99")
	servers := [2]benchServer{{"bare", bURL, false}, {"vtpeer", vURL, true}}
	for _, n := range o.pairs {
		ratios := make([]float64, 0, o.rounds)
		for round := range max(o.rounds, 1) {
			var res [2]sigbench.Result
			for k := range 2 {
				i := k ^ round&1 // odd rounds run vtpeer first
				s := servers[i]
				r, err := sigbench.RunRelay(cmd.Context(), s.url, n, o.duration, s.vtpeer)
				if err != nil {
					return fmt.Errorf("%s, %d pairs: %w", s.name, n, err)
				}
				res[i] = r
				fmt.Fprintf(out, "%-8s %-6d %12.0f %10s %10s\n", s.name, n, r.Rate(), r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond))
			}
			ratios = append(ratios, res[1].Rate()/res[0].Rate())
			fmt.Fprintf(out, "ratio vtpeer/bare at %d pairs: %.2f\n", n, ratios[len(ratios)-1])
		}
		if len(ratios) > 1 {
			slices.Sort(ratios)
			fmt.Fprintf(out, "median ratio vtpeer/bare at %d pairs over %d rounds: %.2f\n", n, len(ratios), ratios[len(ratios)/2])
		}
	}
	return nil
}

type benchServer struct {
	name, url string
	vtpeer    bool
}

func runBenchIdle(cmd *cobra.Command, o *benchSignalOptions) error {
	targets := strings.Split(o.target, ",")
	if len(targets) != len(o.serverPID) {
		return usageError(fmt.Errorf("--idle: %d --target URLs but %d --server-pid", len(targets), len(o.serverPID)))
	}
	before := make([]int, len(o.serverPID))
	for i, pid := range o.serverPID {
		rss, err := sigbench.RSS(pid)
		if err != nil {
			return err
		}
		before[i] = rss
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
	defer cancel()
	conns, err := sigbench.OpenIdleSpread(ctx, targets, o.sources, o.idle)
	defer func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
	}()
	if err != nil {
		return fmt.Errorf("opened %d of %d: %w", len(conns), o.idle, err)
	}
	// let the servers settle (joins, peer-joined frames, a GC cycle)
	t := time.NewTimer(5 * time.Second)
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-t.C:
	}
	out := cmd.OutOrStdout()
	total := 0
	for i, pid := range o.serverPID {
		after, err := sigbench.RSS(pid)
		if err != nil {
			return err
		}
		n := len(conns) / len(targets)
		if i < len(conns)%len(targets) {
			n++
		}
		total += after - before[i]
		fmt.Fprintf(out, "server %d (pid %d): connections %d  rss before %d KiB  after %d KiB  per connection %.1f KiB\n",
			i, pid, n, before[i], after, float64(after-before[i])/float64(n))
	}
	if len(targets) > 1 {
		fmt.Fprintf(out, "all %d servers: connections %d  rss growth %d KiB  per connection %.1f KiB\n",
			len(targets), len(conns), total, float64(total)/float64(len(conns)))
	}
	if o.hold > 0 {
		fmt.Fprintf(out, "holding %d connections for %v\n", len(conns), o.hold)
		h := time.NewTimer(o.hold)
		defer h.Stop()
		select {
		case <-cmd.Context().Done():
		case <-h.C:
		}
	}
	return nil
}

func runBareHub(ctx context.Context, g *globals, addr string) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: sigbench.NewBareHub(), ReadHeaderTimeout: 10 * time.Second}
	log.Info("listening", "addr", ln.Addr().String(), "server", "bare hub")
	go func() { <-ctx.Done(); _ = hs.Close() }()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
