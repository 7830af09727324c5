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

// presenceLoop announces this node every Heartbeat and, every
// Heartbeat/2, checks the others (checkNodes). It makes no JetStream call:
// nothing that waits for the room bucket (a leader election after a node's
// death takes 4 to 10 s) delays the heartbeats, the dead-node check or the
// decision that this node has lost its cluster. Before, one loop did all
// of it and the bucket's calls: during an election the survivors' own
// heartbeats stalled behind them, each heard the other too late, and both
// declared their cluster lost.
func (c *Cluster) presenceLoop(ctx context.Context) {
	hb := time.NewTicker(c.opts.Heartbeat)
	defer hb.Stop()
	check := time.NewTicker(c.opts.Heartbeat / 2)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			c.heartbeat()
		case <-check.C:
			c.checkNodes(time.Now())
		}
	}
}

// upkeepLoop asks the room bucket for its state every Heartbeat (probe)
// and, while it answers, removes the members of dead nodes from it (sweep)
// and retries the leaves that failed.
func (c *Cluster) upkeepLoop(ctx context.Context) {
	t := time.NewTicker(c.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.probe(ctx) {
			c.sweep(ctx)
			c.retryLeaves(ctx)
		}
	}
}

// probe asks the bucket's stream for its state, which it answers only
// while JetStream has a leader for it, records since when it has not, and
// reports whether it did.
func (c *Cluster) probe(ctx context.Context) bool {
	pctx, cancel := context.WithTimeout(ctx, c.opts.DeadAfter/2)
	_, err := c.kv.Status(pctx)
	cancel()
	now := time.Now()
	c.mu.Lock()
	since := c.silentSince
	switch {
	case err != nil && since.IsZero():
		c.silentSince = now
	case err == nil:
		c.silentSince = time.Time{}
	}
	c.mu.Unlock()
	switch {
	case err != nil && since.IsZero():
		c.log.Warn("room bucket not answering (a leader election, or no quorum): joins wait for it", "err", err)
	case err == nil && !since.IsZero():
		c.log.Info("room bucket answers again", "after", now.Sub(since).Round(time.Millisecond))
	}
	return err == nil
}

// checkNodes decides whether this node has lost its cluster (then tells
// its Node, once per episode) and, while it has not, which other nodes are
// dead: not heard for DeadAfter. A node found dead (or heard again) has
// its members hidden (shown again) in every room at once, so that their
// peer-left reaches the members here within DeadAfter of the death
// whatever JetStream does; the bucket follows when it answers (sweep).
func (c *Cluster) checkNodes(now time.Time) {
	connected := c.nc.IsConnected()
	c.mu.Lock()
	if connected {
		c.offlineSince = time.Time{}
	} else if c.offlineSince.IsZero() {
		c.offlineSince = now
	}
	for n, last := range c.seen {
		if now.Sub(last) > tombstoneTTL {
			delete(c.seen, n)
		}
	}
	lost := c.lostLocked(now, connected)
	var changed []string
	if c.lost == nil && connected {
		changed = c.findDeadLocked(now)
	}
	node := c.node
	c.mu.Unlock()
	if lost != nil {
		c.log.Warn("cluster lost: closing this node's members", "err", lost)
		if node != nil {
			node.ClusterLost(lost)
		}
	}
	if len(changed) > 0 {
		c.retell(changed)
	}
}

// lostLocked decides, once per episode, that this node has lost its
// cluster and must close its members (signal.Node.ClusterLost), and returns
// why then (nil otherwise): it has been disconnected from NATS for
// DeadAfter/2; or the bucket does not answer and it has heard no other
// node for DeadAfter while it knew some (it is cut off: the others are
// removing its members; with the bucket answering, the others are dead
// and this node is the cluster); or the bucket has not
// answered for 4 × DeadAfter while this node hears at most half of the
// nodes it knows (it is on the minority side of a split; on the majority
// side a silent bucket is the whole cluster's trouble, which moving the
// members to another node would not cure). A JetStream leader election (a
// node died: the bucket is silent for 4 to 10 s while the survivors hear
// each other) is none of these. The episode ends when NATS is up, another
// node heard and the bucket answers. c.mu must be held.
func (c *Cluster) lostLocked(now time.Time, connected bool) error {
	var heard time.Time
	known, alive := 1, 1 // this node
	for id, t := range c.seen {
		if id == c.opts.NodeID {
			continue
		}
		known++
		if now.Sub(t) < c.opts.DeadAfter {
			alive++
		}
		if t.After(heard) {
			heard = t
		}
	}
	silent := time.Duration(0)
	if !c.silentSince.IsZero() {
		silent = now.Sub(c.silentSince)
	}
	if c.lost != nil {
		if connected && silent == 0 && (heard.IsZero() || now.Sub(heard) < c.opts.DeadAfter) {
			c.log.Info("cluster found again: taking joins")
			c.lost = nil
		}
		return nil
	}
	var why error
	switch {
	case !connected && now.Sub(c.offlineSince) >= c.opts.DeadAfter/2:
		why = fmt.Errorf("%w: disconnected from nats for %s", signal.ErrUnavailable, now.Sub(c.offlineSince).Round(time.Millisecond))
	case silent > 0 && !heard.IsZero() && now.Sub(heard) >= c.opts.DeadAfter:
		why = fmt.Errorf("%w: no other node heard for %s", signal.ErrUnavailable, now.Sub(heard).Round(time.Millisecond))
	case silent >= 4*c.opts.DeadAfter && 2*alive <= known:
		why = fmt.Errorf("%w: room bucket unreachable for %s, %d of %d nodes heard", signal.ErrUnavailable, silent.Round(time.Millisecond), alive, known)
	default:
		return nil
	}
	c.lost = why
	return why
}

// findDeadLocked brings c.dead up to date with the nodes that hold members
// and were not heard for DeadAfter (or, never heard, not since this node
// started), and returns the keys of the rooms whose visible members
// changed. c.mu must be held.
func (c *Cluster) findDeadLocked(now time.Time) []string {
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
	dead := make(map[string]bool, len(c.dead))
	for _, st := range c.rooms {
		for _, n := range st.nodes {
			if _, ok := dead[n]; !ok {
				dead[n] = !alive(n)
			}
		}
	}
	flipped := map[string]bool{}
	for n, d := range dead {
		if d != c.dead[n] {
			flipped[n] = true
		}
		if !d {
			delete(dead, n)
		}
	}
	for n := range c.dead {
		if !dead[n] {
			flipped[n] = true // heard again, or no member left
		}
	}
	if len(flipped) == 0 {
		return nil
	}
	for n := range flipped {
		if dead[n] {
			c.log.Warn("node not heard: its members are gone", "node", n, "after", c.opts.DeadAfter)
		} else if c.dead[n] {
			c.log.Info("node no longer counted dead", "node", n)
		}
	}
	c.dead = dead
	var keys []string
	for key, st := range c.rooms {
		if slices.ContainsFunc(st.nodes, func(n string) bool { return flipped[n] }) {
			keys = append(keys, key)
		}
	}
	return keys
}

// retell tells the node the rooms of keys again at the revision it knows,
// with the members of dead nodes hidden (signal.Node.RoomChanged takes a
// state at the same revision as a correction).
func (c *Cluster) retell(keys []string) {
	for _, key := range keys {
		mu := c.tellLock(key)
		mu.Lock()
		c.mu.Lock()
		st := c.rooms[key]
		var v signal.RoomView
		if st != nil {
			v = signal.RoomView{Room: st.name, Rev: st.rev, Members: c.visibleLocked(st.members())}
		}
		node := c.node
		c.mu.Unlock()
		if node != nil && v.Room != "" && v.Rev > 0 {
			node.RoomChanged(v)
		}
		mu.Unlock()
	}
}

// sweep removes the members of the nodes found dead (checkNodes) from
// every room of the bucket.
func (c *Cluster) sweep(ctx context.Context) {
	now := time.Now()
	dead := map[string]bool{}
	var rooms []string
	c.mu.Lock()
	for key, st := range c.rooms {
		if len(st.nodes) == 0 {
			if now.Sub(st.emptied) > tombstoneTTL {
				delete(c.rooms, key)
			}
			continue
		}
		hit := false
		for _, n := range st.nodes {
			if c.dead[n] {
				dead[n], hit = true, true
			}
		}
		if hit {
			rooms = append(rooms, st.name)
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
