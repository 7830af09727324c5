package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// maxCASAttempts bounds the compare-and-set retries of one batch of joins
// and leaves; each retry means another node changed the room in between.
const maxCASAttempts = 50

// Join implements signal.Cluster: a compare-and-set update of the room's
// key, retried while other nodes change it.
func (c *Cluster) Join(ctx context.Context, j signal.JoinRequest) (signal.RoomView, error) {
	if err := c.Ready(); err != nil {
		return signal.RoomView{}, err
	}
	resume := ""
	if j.Resume != [32]byte{} {
		resume = fmt.Sprintf("%x", j.Resume)
	}
	me := signal.Member{PeerID: j.PeerID, Node: c.opts.NodeID, Session: j.Session, Resume: resume}
	rev, members, err := c.update(ctx, j.Room, func(cur []signal.Member) ([]signal.Member, error) {
		i := slices.IndexFunc(cur, func(m signal.Member) bool { return m.PeerID == j.PeerID })
		switch {
		case i >= 0 && cur[i] == me:
			return nil, errUnchanged // this join's own write, read again after a lost ack
		case i >= 0 && (resume == "" || cur[i].Resume != resume):
			return nil, signal.ErrPeerIDTaken
		case i < 0 && len(cur) >= j.MaxMembers:
			return nil, signal.ErrRoomFull
		}
		next := slices.Clone(cur)
		if i >= 0 {
			next[i] = me
		} else {
			next = append(next, me)
		}
		return next, nil
	})
	if errors.Is(err, errUnchanged) {
		err = nil
	}
	if err != nil {
		if errors.Is(err, signal.ErrUnavailable) {
			// The write may have landed without this node hearing so: make
			// sure the member the client is told it is not does not stay.
			c.retryLeave(j.Room, j.PeerID, j.Session)
		}
		return signal.RoomView{}, fmt.Errorf("join room: %w", err)
	}
	c.mu.Lock()
	members = c.visibleLocked(members)
	c.mu.Unlock()
	return signal.RoomView{Room: j.Room, Rev: rev, Members: members}, nil
}

// Leave implements signal.Cluster. A leave that fails (NATS unreachable,
// the room too busy) is retried in the background until it is done, so a
// member that left never stays listed while this node lives.
func (c *Cluster) Leave(ctx context.Context, room, peerID, session string) error {
	if err := c.leave(ctx, room, peerID, session); err != nil {
		c.retryLeave(room, peerID, session)
		return err
	}
	return nil
}

func (c *Cluster) leave(ctx context.Context, room, peerID, session string) error {
	_, _, err := c.update(ctx, room, func(cur []signal.Member) ([]signal.Member, error) {
		i := slices.IndexFunc(cur, func(m signal.Member) bool { return m.PeerID == peerID && m.Session == session })
		if i < 0 {
			return nil, errUnchanged
		}
		return slices.Delete(slices.Clone(cur), i, i+1), nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("leave room: %w", err)
	}
	return nil
}

// errUnchanged tells update that the room needs no change.
var errUnchanged = errors.New("cluster: unchanged")
