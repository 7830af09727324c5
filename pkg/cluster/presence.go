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
			c.retryLeaves(ctx)
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
	lost := c.lostLocked(time.Now())
	node := c.node
	c.mu.Unlock()
	if lost != nil && node != nil {
		c.log.Warn("cluster lost: closing this node's members", "err", lost)
		node.ClusterLost(lost)
	}
	if (was == nil) != (now == nil) {
		if now != nil {
			c.log.Warn("cluster unavailable: taking no joins", "err", now)
		} else {
			c.log.Info("cluster available again")
		}
	}
}

// lostLocked decides, once per episode, that this node has lost its
// cluster and must close its members (signal.Node.ClusterLost): it has
// been disconnected from NATS for DeadAfter/2, or has heard no other node
// for DeadAfter while it knew some (the others are removing its members),
// or the bucket has not answered for 4 × DeadAfter. A mere JetStream
// leader election (a node died: up to about 9 s without an answer while
// the nodes still hear each other) is none of these. c.mu must be held.
func (c *Cluster) lostLocked(now time.Time) error {
	connected := c.nc.IsConnected()
	switch {
	case c.unready == nil && connected:
		c.unreadySince, c.offlineSince, c.lost = time.Time{}, time.Time{}, false
		return nil
	case c.unreadySince.IsZero():
		c.unreadySince = now
	}
	if connected {
		c.offlineSince = time.Time{}
	} else if c.offlineSince.IsZero() {
		c.offlineSince = now
	}
	if c.lost {
		return nil
	}
	var heard time.Time
	for id, t := range c.seen {
		if id != c.opts.NodeID && t.After(heard) {
			heard = t
		}
	}
	var why error
	switch {
	case !connected && now.Sub(c.offlineSince) >= c.opts.DeadAfter/2:
		why = fmt.Errorf("%w: disconnected from nats for %s", signal.ErrUnavailable, now.Sub(c.offlineSince).Round(time.Millisecond))
	case !heard.IsZero() && now.Sub(heard) >= c.opts.DeadAfter:
		why = fmt.Errorf("%w: no other node heard for %s", signal.ErrUnavailable, now.Sub(heard).Round(time.Millisecond))
	case now.Sub(c.unreadySince) >= 4*c.opts.DeadAfter:
		why = fmt.Errorf("%w: room bucket unreachable for %s", signal.ErrUnavailable, now.Sub(c.unreadySince).Round(time.Millisecond))
	default:
		return nil
	}
	c.lost = true
	return why
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
		_, _, err := c.update(sctx, room, func(cur []signal.Member) ([]signal.Member, error) {
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
