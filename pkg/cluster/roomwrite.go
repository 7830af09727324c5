package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// writeTimeout bounds one batch of changes to a room (all its
// compare-and-set attempts); it is below the signal.Server's 5 s per call.
const writeTimeout = 4 * time.Second

// silentAttemptTimeout bounds one read or write of a compare-and-set
// attempt while the bucket is known silent (probe): a request sent while
// its stream has no leader (the election after a node's death) is never
// answered, and the attempt after it, once a new leader is elected, gets
// in within the same batch. While the bucket answers, an attempt may take
// the batch's whole time (a JetStream slow under load, seconds per
// request, must still answer the first one).
const silentAttemptTimeout = time.Second

// attemptContext returns the context of one attempt of a batch.
func (c *Cluster) attemptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	c.mu.Lock()
	silent := !c.silentSince.IsZero()
	c.mu.Unlock()
	if silent {
		return context.WithTimeout(ctx, silentAttemptTimeout)
	}
	return context.WithCancel(ctx)
}

// A room's changes on one node are written in batches: while a write of the
// room is on its way, the joins and leaves that come meanwhile queue, and
// the next write applies them all in one compare-and-set. Under churn the
// nodes then race each other (at most one writer per node and room) rather
// than every member that joins at the same moment, and a room that many
// enter at once costs one write per node per round trip instead of
// livelocking on conflicts (found by TestChurn: 10 joins at once on a room
// failed with "changes too fast" after 50 attempts).

// pendingChange is one join or leave waiting for its room's writer.
type pendingChange struct {
	change  func([]signal.Member) ([]signal.Member, error)
	taken   bool // the writer has it: the result will come
	rev     uint64
	members []signal.Member
	err     error
	done    chan struct{}
}

// roomQueue holds the changes of one room queued behind its writer.
type roomQueue struct{ ops []*pendingChange }

// update queues change for room and waits for the write that applies it:
// change gets the room's members as they stand (with the changes queued
// before it applied) and returns the next ones, or an error that is
// returned to this caller only (errUnchanged: nothing to do). An empty
// room is purged from the bucket. It returns the room's revision and
// members after the write (the revision before the purge for an emptied
// room, and no members).
func (c *Cluster) update(ctx context.Context, room string, change func([]signal.Member) ([]signal.Member, error)) (uint64, []signal.Member, error) {
	p := &pendingChange{change: change, done: make(chan struct{})}
	key := roomKey(room)
	c.writeMu.Lock()
	q := c.queues[key]
	if q == nil {
		q = &roomQueue{}
		c.queues[key] = q
		c.wg.Go(func() { c.writeLoop(key, room, q) })
	}
	q.ops = append(q.ops, p)
	c.writeMu.Unlock()
	select {
	case <-p.done:
		return p.rev, p.members, p.err
	case <-ctx.Done():
	}
	c.writeMu.Lock()
	if !p.taken {
		q.ops = slices.DeleteFunc(q.ops, func(o *pendingChange) bool { return o == p })
		c.writeMu.Unlock()
		return 0, nil, fmt.Errorf("%w: %v", signal.ErrUnavailable, context.Cause(ctx))
	}
	c.writeMu.Unlock()
	<-p.done // taken: the writer decides within writeTimeout
	return p.rev, p.members, p.err
}

// writeLoop writes the room's queued changes, batch after batch, until
// none is left.
func (c *Cluster) writeLoop(key, room string, q *roomQueue) {
	for {
		c.writeMu.Lock()
		batch := q.ops
		q.ops = nil
		if len(batch) == 0 {
			delete(c.queues, key)
			c.writeMu.Unlock()
			return
		}
		for _, p := range batch {
			p.taken = true
		}
		c.writeMu.Unlock()
		c.writeBatch(key, room, batch)
	}
}

// writeBatch applies batch to the room in one compare-and-set write,
// reading the room again after a conflict, and tells every change its
// result.
func (c *Cluster) writeBatch(key, room string, batch []*pendingChange) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	results := make([]error, len(batch))
	finish := func(rev uint64, members []signal.Member, err error) {
		for i, p := range batch {
			p.rev, p.members, p.err = rev, members, err
			if err == nil {
				p.err = results[i]
			}
			close(p.done)
		}
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			// Another node wrote first (or NATS failed): back off a little,
			// with jitter, so that the nodes' writers do not collide again.
			d := time.Duration(1+rand.IntN(min(attempt, 20))) * time.Millisecond
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if ctx.Err() != nil || attempt >= maxCASAttempts {
			if lastErr == nil {
				lastErr = fmt.Errorf("room %q changes too fast", room)
			}
			finish(0, nil, fmt.Errorf("%w: %v", signal.ErrUnavailable, lastErr))
			return
		}
		actx, acancel := c.attemptContext(ctx)
		cur, rev, err := c.readRoom(actx, key)
		acancel()
		if err != nil {
			lastErr = err
			continue
		}
		members, changed := cur.Members, false
		for i, p := range batch {
			next, err := p.change(members)
			results[i] = err
			if err == nil {
				members, changed = next, true
			}
		}
		if !changed {
			finish(rev, cur.Members, nil)
			return
		}
		if len(members) == 0 {
			if rev == 0 {
				finish(0, nil, nil)
				return
			}
			// Purge, not Delete: the marker replaces the room's value and
			// goes itself after EmptyRoomTTL.
			actx, acancel := c.attemptContext(ctx)
			err = c.kv.Purge(actx, key, jetstream.LastRevision(rev), jetstream.PurgeTTL(c.opts.EmptyRoomTTL))
			acancel()
			if err == nil {
				// The watch brings the marker's revision.
				finish(rev, nil, nil)
				return
			}
		} else {
			b := appendRoom(nil, room, members)
			var newRev uint64
			// Update at revision 0 creates the key; at a marker's revision
			// it brings the room back.
			actx, acancel := c.attemptContext(ctx)
			newRev, err = c.kv.Update(actx, key, b, rev)
			acancel()
			if err == nil {
				c.tell(key, room, newRev, members)
				c.announce(key, newRev, b)
				finish(newRev, members, nil)
				return
			}
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			lastErr = err
			continue
		}
		// The write may have landed or not (a lost ack): read again. The
		// changes see their own write in that case (Join and Leave are
		// idempotent for their session).
		lastErr = fmt.Errorf("write room: %w", err)
	}
}

// readRoom reads a room's value from the leader of the bucket's stream:
// KV Get may be answered by a replica that has not yet seen the latest
// write, which makes the next compare-and-set fail for nothing. It returns
// revision 0 when the key has never been written (or its marker is gone),
// the marker's revision and no members when the room was emptied.
func (c *Cluster) readRoom(ctx context.Context, key string) (roomValue, uint64, error) {
	var v roomValue
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + c.bucket + "." + key})
	m, err := c.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+c.bucket, req)
	if err != nil {
		return v, 0, fmt.Errorf("read room: %w", err)
	}
	var resp struct {
		Error *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return v, 0, fmt.Errorf("read room: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == int(jetstream.JSErrCodeMessageNotFound):
		return v, 0, nil
	case resp.Error != nil:
		return v, 0, fmt.Errorf("read room: %s", resp.Error.Description)
	case resp.Message == nil:
		return v, 0, errors.New("read room: empty answer")
	}
	if len(resp.Message.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Hdrs)
		if err != nil {
			return v, 0, fmt.Errorf("read room: %w", err)
		}
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			return v, resp.Message.Seq, nil
		}
	}
	if err := decodeRoom(resp.Message.Data, &v); err != nil {
		return v, 0, err
	}
	return v, resp.Message.Seq, nil
}
