package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// maxCASAttempts bounds the compare-and-set retries of one join or leave;
// each retry means another node changed the room in between.
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
	var members []signal.Member
	rev, err := c.update(ctx, j.Room, func(cur []signal.Member) ([]signal.Member, error) {
		i := slices.IndexFunc(cur, func(m signal.Member) bool { return m.PeerID == j.PeerID })
		switch {
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
		members = next
		return next, nil
	})
	if err != nil {
		return signal.RoomView{}, fmt.Errorf("join room: %w", err)
	}
	return signal.RoomView{Room: j.Room, Rev: rev, Members: members}, nil
}

// Leave implements signal.Cluster.
func (c *Cluster) Leave(ctx context.Context, room, peerID, session string) error {
	_, err := c.update(ctx, room, func(cur []signal.Member) ([]signal.Member, error) {
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

// update reads the room's members, lets change compute the next ones and
// writes them if nobody wrote in between (else reads again). An empty
// result deletes the key. It records the new state and returns its
// revision.
func (c *Cluster) update(ctx context.Context, room string, change func([]signal.Member) ([]signal.Member, error)) (uint64, error) {
	key := roomKey(room)
	for range maxCASAttempts {
		var cur roomValue
		var rev uint64
		e, err := c.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return 0, fmt.Errorf("%w: read room: %v", signal.ErrUnavailable, err)
		default:
			if err := decodeRoom(e.Value(), &cur); err != nil {
				return 0, err
			}
			rev = e.Revision()
		}
		next, err := change(cur.Members)
		if err != nil {
			return 0, err
		}
		var newRev uint64
		switch {
		case len(next) == 0 && rev == 0:
			return 0, errUnchanged
		case len(next) == 0:
			err = c.kv.Delete(ctx, key, jetstream.LastRevision(rev))
			if err == nil {
				// Delete does not say the revision of its marker; the watch
				// brings it. Until then the emptied room reads as before.
				return rev, nil
			}
		case rev == 0:
			b, _ := json.Marshal(roomValue{Room: room, Members: next})
			newRev, err = c.kv.Create(ctx, key, b)
		default:
			b, _ := json.Marshal(roomValue{Room: room, Members: next})
			newRev, err = c.kv.Update(ctx, key, b, rev)
		}
		switch {
		case err == nil:
			c.tell(key, room, newRev, next)
			return newRev, nil
		case errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue // another node wrote first: read again
		default:
			return 0, fmt.Errorf("%w: write room: %v", signal.ErrUnavailable, err)
		}
	}
	return 0, fmt.Errorf("%w: room %q changes too fast", signal.ErrUnavailable, room)
}

// decodeRoom parses a room's value.
func decodeRoom(b []byte, v *roomValue) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode room state: %w", err)
	}
	return nil
}
