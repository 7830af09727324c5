package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// tombstoneTTL is how long an emptied room's revision is kept.
const tombstoneTTL = time.Minute

// onHeartbeat records that a node is alive.
func (c *Cluster) onHeartbeat(m *nats.Msg) {
	id := string(m.Data)
	c.mu.Lock()
	c.seen[id] = time.Now()
	c.mu.Unlock()
}

// heartbeat announces this node.
func (c *Cluster) heartbeat() {
	_ = c.nc.Publish(c.opts.Prefix+".hb", []byte(c.opts.NodeID))
}

// presenceLoop announces this node, checks that the bucket answers (Ready)
// and removes the members of nodes not heard for DeadAfter.
func (c *Cluster) presenceLoop(ctx context.Context) {
	t := time.NewTicker(c.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.heartbeat()
		c.probe(ctx)
		if c.Ready() == nil {
			c.sweep(ctx)
		}
	}
}

// probe asks the bucket's stream for its state: it answers only while
// JetStream has a leader for it, which a node cut off from the majority
// has not.
func (c *Cluster) probe(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, c.opts.DeadAfter/2)
	_, err := c.kv.Status(pctx)
	cancel()
	c.mu.Lock()
	was := c.unready
	if err != nil {
		c.unready = fmt.Errorf("%w: room bucket unreachable: %v", signal.ErrUnavailable, err)
	} else {
		c.unready = nil
	}
	now := c.unready
	node := c.node
	c.mu.Unlock()
	if (was == nil) != (now == nil) {
		if now != nil {
			c.log.Warn("cluster unavailable: taking no joins", "err", now)
			if node != nil {
				node.ClusterLost(now)
			}
		} else {
			c.log.Info("cluster available again")
		}
	}
}

// sweep removes the members of dead nodes from every room.
func (c *Cluster) sweep(ctx context.Context) {
	now := time.Now()
	dead := map[string]bool{}
	var rooms []string
	c.mu.Lock()
	alive := func(n string) bool {
		if n == c.opts.NodeID {
			return true
		}
		last, ok := c.seen[n]
		if !ok {
			return now.Sub(c.start) < c.opts.DeadAfter
		}
		return now.Sub(last) < c.opts.DeadAfter
	}
	for key, st := range c.rooms {
		if len(st.members) == 0 {
			if now.Sub(st.emptied) > tombstoneTTL {
				delete(c.rooms, key)
			}
			continue
		}
		hit := false
		for _, m := range st.members {
			if !alive(m.Node) {
				dead[m.Node], hit = true, true
			}
		}
		if hit {
			rooms = append(rooms, st.name)
		}
	}
	for n, last := range c.seen {
		if now.Sub(last) > tombstoneTTL {
			delete(c.seen, n)
		}
	}
	c.mu.Unlock()
	for _, room := range rooms {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.update(sctx, room, func(cur []signal.Member) ([]signal.Member, error) {
			next := slices.DeleteFunc(slices.Clone(cur), func(m signal.Member) bool { return dead[m.Node] })
			if len(next) == len(cur) {
				return nil, errUnchanged
			}
			return next, nil
		})
		cancel()
		if err != nil && err != errUnchanged {
			c.log.Debug("removing a dead node's members failed", "err", err)
		}
	}
	if len(rooms) > 0 {
		c.log.Info("removed the members of dead nodes", "nodes", len(dead), "rooms", len(rooms))
	}
}
