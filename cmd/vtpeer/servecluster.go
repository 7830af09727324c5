package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/cluster"
)

// clusterFlags configure how vtpeer serve shares its rooms: an embedded
// NATS node, alone (the default: no network listener) or routed to other
// nodes, or an external NATS cluster.
type clusterFlags struct {
	listen    string
	routes    []string
	name      string
	natsURL   string
	natsCreds string
	replicas  int
	store     string
	home      string // $VTPEER_HOME: the default store is under it
}

func (c *clusterFlags) bind(cmd *cobra.Command, g *globals) {
	c.home = vtpeerHome(g)
	f := cmd.Flags()
	f.StringVar(&c.listen, "cluster-listen", "", "HOST:PORT this node takes NATS routes from the other vtpeer serve nodes on (default: alone, no listener)")
	f.StringSliceVar(&c.routes, "routes", nil, "comma-separated nats://HOST:PORT routes of the cluster's nodes (this node's own may be listed); needs --cluster-listen")
	f.StringVar(&c.name, "cluster-name", "vtpeer", "name every node of the cluster shares")
	f.StringVar(&c.natsURL, "nats-url", "", "comma-separated URLs of an external NATS cluster to share rooms through, instead of an embedded node")
	f.StringVar(&c.natsCreds, "nats-creds", "", "NATS credentials file for --nats-url")
	f.StringVar(&c.store, "cluster-store", "", "directory of this node's JetStream store and server name, locked while it runs (default: $VTPEER_HOME/cluster with --cluster-listen; alone, a temporary one)")
	f.IntVar(&c.replicas, "cluster-replicas", 0, "copies JetStream keeps of the room state (default: 1 alone, 3 in a cluster of three or more nodes or with --nats-url)")
}

// sharedRooms is the running cluster: the Cluster, and what to close after
// the signal.Server.
type sharedRooms struct {
	cl        *cluster.Cluster
	nc        *nats.Conn
	node      *cluster.EmbeddedNode
	replicas  int
	clustered bool // routed to other nodes, or on an external NATS: the mailbox goes to JetStream
}

// start checks the flags and joins the cluster (alone by default).
func (c *clusterFlags) start(ctx context.Context, log *slog.Logger) (*sharedRooms, error) {
	switch {
	case c.natsURL != "" && (c.listen != "" || len(c.routes) > 0):
		return nil, usageError(errors.New("--nats-url and --cluster-listen/--routes are exclusive: use an external NATS or embedded nodes"))
	case c.natsCreds != "" && c.natsURL == "":
		return nil, usageError(errors.New("--nats-creds needs --nats-url"))
	case len(c.routes) > 0 && c.listen == "":
		return nil, usageError(errors.New("--routes needs --cluster-listen (the address the other nodes route to)"))
	case c.replicas < 0 || c.replicas > 5:
		return nil, usageError(errors.New("--cluster-replicas must be 1 to 5"))
	case c.store != "" && c.natsURL != "":
		return nil, usageError(errors.New("--cluster-store is the embedded node's store: not with --nats-url"))
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	r := &sharedRooms{}
	replicas := c.replicas
	if c.natsURL != "" {
		opts := []nats.Option{nats.Name("vtpeer serve"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true)}
		if c.natsCreds != "" {
			opts = append(opts, nats.UserCredentials(c.natsCreds))
		}
		nc, err := nats.Connect(c.natsURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("connect to --nats-url: %w", err)
		}
		r.nc = nc
		if replicas == 0 {
			replicas = 3
		}
	} else {
		store := c.store
		if store == "" && c.listen != "" {
			store = filepath.Join(c.home, "cluster")
		}
		node, err := cluster.StartNode(sctx, &cluster.NodeOptions{
			ClusterName: c.name, ClusterListen: c.listen, Routes: c.routes, StoreDir: store, Logger: log,
		})
		if errors.Is(err, cluster.ErrBadOptions) {
			return nil, usageError(err)
		}
		if errors.Is(err, cluster.ErrStoreLocked) {
			return nil, fmt.Errorf("start the embedded nats node: %w (another vtpeer serve runs on it: give each node its own VTPEER_HOME or --cluster-store)", err)
		}
		if err != nil {
			return nil, fmt.Errorf("start the embedded nats node: %w", err)
		}
		r.node = node
		nc, err := node.Connect(nats.Name("vtpeer serve"), nats.MaxReconnects(-1))
		if err != nil {
			node.Close()
			return nil, err
		}
		r.nc = nc
		if replicas == 0 {
			replicas = min(3, clusterSize(c.listen, c.routes))
		}
	}
	copts := &cluster.Options{Replicas: replicas, Logger: log.With("component", "cluster")}
	if r.node != nil && c.listen != "" {
		copts.CaughtUp = r.node.CaughtUp // a restarted node turns joins away until its replicas are current
	}
	cl, err := cluster.New(sctx, r.nc, copts)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("join the cluster: %w", err)
	}
	r.cl, r.replicas, r.clustered = cl, replicas, c.natsURL != "" || c.listen != ""
	var server, storeDir string
	if r.node != nil {
		server, storeDir = r.node.Name(), r.node.StoreDir()
	}
	log.Info("rooms shared", "node", cl.NodeID(), "server", server, "store", storeDir, "replicas", replicas, "embedded", r.node != nil,
		"cluster_listen", c.listen, "routes", strings.Join(c.routes, ","))
	return r, nil
}

// clusterSize counts the nodes the flags name: the routes plus this node
// when its own address is not among them.
func clusterSize(listen string, routes []string) int {
	if listen == "" {
		return 1
	}
	n := len(routes)
	own := false
	for _, r := range routes {
		if strings.TrimPrefix(r, "nats://") == listen {
			own = true
		}
	}
	if !own {
		n++
	}
	return n
}

// close leaves the cluster; call it after the signal.Server closed.
func (r *sharedRooms) close() {
	if r.cl != nil {
		_ = r.cl.Close()
	}
	if r.nc != nil {
		r.nc.Close()
	}
	if r.node != nil {
		r.node.Close()
	}
}
