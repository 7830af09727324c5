package cluster

import (
	"context"
	"time"
)

// pendingLeave is a member to remove whose Leave failed (or whose Join
// ended in doubt).
type pendingLeave struct{ room, peerID, session string }

// maxPendingLeaves bounds the leaves kept for retry; past it the oldest
// are not kept (a node that long cut off has its members removed by the
// others' sweep anyway).
const maxPendingLeaves = 100_000

// retryLeave keeps a leave to retry from the presence loop.
func (c *Cluster) retryLeave(room, peerID, session string) {
	c.writeMu.Lock()
	if len(c.leaves) < maxPendingLeaves {
		c.leaves[pendingLeave{room, peerID, session}] = true
	}
	c.writeMu.Unlock()
}

// retryLeaves tries the kept leaves again; those done are forgotten. The
// removal checks the session, so a member that joined again since (a new
// session) is not touched.
func (c *Cluster) retryLeaves(ctx context.Context) {
	c.writeMu.Lock()
	todo := make([]pendingLeave, 0, len(c.leaves))
	for l := range c.leaves {
		todo = append(todo, l)
	}
	c.writeMu.Unlock()
	for _, l := range todo {
		lctx, cancel := context.WithTimeout(ctx, writeTimeout+time.Second)
		err := c.leave(lctx, l.room, l.peerID, l.session)
		cancel()
		if err != nil {
			c.log.Debug("leave retry failed", "err", err)
			return // NATS is still failing: next tick
		}
		c.writeMu.Lock()
		delete(c.leaves, l)
		c.writeMu.Unlock()
	}
	if len(todo) > 0 {
		c.log.Info("retried leaves", "count", len(todo))
	}
}
