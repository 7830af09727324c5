package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/verytippers/vtpeer/pkg/cluster"
	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/signal/sigbench"
)

// benchNode is one vtpeer server of an in-process bench cluster.
type benchNode struct {
	node *cluster.EmbeddedNode
	cl   *cluster.Cluster
	srv  *signal.Server
	url  string
	stop func()
}

// startBenchCluster starts n embedded NATS nodes routed to each other on
// loopback, a Cluster and a signal.Server (no limits in the way) on each.
func startBenchCluster(ctx context.Context, n int) ([]*benchNode, func(), error) {
	var addrs, routes []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		addrs = append(addrs, ln.Addr().String())
		routes = append(routes, "nats://"+ln.Addr().String())
		_ = ln.Close()
	}
	var nodes []*benchNode
	closeAll := func() {
		for _, b := range slices.Backward(nodes) {
			if b.stop != nil {
				b.stop()
			}
			if b.srv != nil {
				_ = b.srv.Close()
			}
			if b.cl != nil {
				_ = b.cl.Close()
			}
			b.node.Close()
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for i := range n {
		node, err := cluster.StartNode(sctx, &cluster.NodeOptions{Name: fmt.Sprintf("bench%d", i), ClusterListen: addrs[i], Routes: routes})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		nodes = append(nodes, &benchNode{node: node})
	}
	// The room bucket needs a quorum of the nodes: join them all at once.
	errc := make(chan error, n)
	for i, b := range nodes {
		go func() {
			nc, err := b.node.Connect()
			if err == nil {
				b.cl, err = cluster.New(sctx, nc, &cluster.Options{NodeID: fmt.Sprintf("bench%d", i), Replicas: min(3, n)})
			}
			errc <- err
		}()
	}
	var errs []error
	for range n {
		errs = append(errs, <-errc)
	}
	if err := errors.Join(errs...); err != nil {
		closeAll()
		return nil, nil, err
	}
	for _, b := range nodes {
		srv, err := signal.NewServer(&signal.ServerOptions{Rate: rate.Inf, Burst: 1, MaxConnsPerIP: -1, MaxRooms: 1 << 20, Cluster: b.cl})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		b.srv = srv
		if b.url, b.stop, err = listenLoopback(srv); err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	return nodes, closeAll, nil
}

// runBenchCluster measures relay frames/s and latency with each pair's ends
// on two different nodes of the cluster against pairs on one node, in the
// same run, alternating which goes first.
func runBenchCluster(cmd *cobra.Command, o *benchSignalOptions) error {
	if o.cluster < 2 || o.cluster > 5 {
		return usageError(errors.New("--cluster must be 2 to 5 nodes"))
	}
	nodes, stop, err := startBenchCluster(cmd.Context(), o.cluster)
	if err != nil {
		return fmt.Errorf("start the cluster: %w", err)
	}
	defer stop()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "cluster of %d embedded NATS nodes, room bucket R%d\n", o.cluster, min(3, o.cluster))
	fmt.Fprintf(out, "%-11s %-6s %12s %10s %10s\n", "ends", "pairs", "frames/s", "p50", "p99")
	layouts := [2]struct{ name, a, b string }{
		{"same node", nodes[0].url, nodes[0].url},
		{"cross node", nodes[0].url, nodes[1].url},
	}
	for _, n := range o.pairs {
		var rateRatios, p99Ratios []float64
		for round := range max(o.rounds, 1) {
			var res [2]sigbench.Result
			for k := range 2 {
				i := k ^ round&1 // odd rounds run cross-node first
				l := layouts[i]
				r, err := sigbench.RunRelayAcross(cmd.Context(), l.a, l.b, n, o.duration, true)
				if err != nil {
					return fmt.Errorf("%s, %d pairs: %w", l.name, n, err)
				}
				res[i] = r
				fmt.Fprintf(out, "%-11s %-6d %12.0f %10s %10s\n", l.name, n, r.Rate(), r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond))
			}
			rateRatios = append(rateRatios, res[1].Rate()/res[0].Rate())
			p99Ratios = append(p99Ratios, float64(res[1].P99)/float64(res[0].P99))
			fmt.Fprintf(out, "cross/same at %d pairs: frames/s %.2fx (target >= 0.5), p99 %.2fx (target <= 2)\n",
				n, rateRatios[len(rateRatios)-1], p99Ratios[len(p99Ratios)-1])
		}
		if len(rateRatios) > 1 {
			slices.Sort(rateRatios)
			slices.Sort(p99Ratios)
			fmt.Fprintf(out, "median cross/same at %d pairs over %d rounds: frames/s %.2fx, p99 %.2fx\n",
				n, len(rateRatios), rateRatios[len(rateRatios)/2], p99Ratios[len(p99Ratios)/2])
		}
	}
	return nil
}
