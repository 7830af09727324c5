package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// Options configure a Cluster. A nil *Options, and every zero field, means
// the documented default.
type Options struct {
	// NodeID names this node in member records and its frame subject
	// (default: random). It must be unique in the cluster and a NATS
	// subject token ([A-Za-z0-9_-]).
	NodeID string
	// Prefix starts every subject and bucket name (default "vtpeer"):
	// clusters with different prefixes share a NATS without meeting.
	Prefix string
	// Replicas is the number of copies JetStream keeps of the room bucket
	// (default 1; 3 in a cluster of three or more).
	Replicas int
	// Heartbeat is how often the node announces itself (default 500ms);
	// the members of a node not heard for DeadAfter (default 3s) are
	// reported gone at once by every other node (checked every
	// Heartbeat/2) and removed from the bucket as soon as it answers.
	Heartbeat time.Duration
	DeadAfter time.Duration
	// Shards is the number of goroutines that deliver forwarded frames
	// (default 64): a room whose members read slowly holds its shard only.
	Shards int
	// EmptyRoomTTL is how long the marker a room leaves in the bucket when
	// its last member goes stays there (default 1m). Nodes that missed the
	// room's end (cut off longer than this) read it again (see sweep).
	EmptyRoomTTL time.Duration
	// CaughtUp, if set, is asked by Ready until it first returns nil: the
	// node takes no join and /readyz says why while it is catching up
	// after a start (EmbeddedNode.CaughtUp). Nil: no such wait (an
	// external NATS answers for itself).
	CaughtUp func() error
	// Logger receives membership and presence events. Nil: discard.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.NodeID == "" {
		v.NodeID = randomID()
	}
	if v.Prefix == "" {
		v.Prefix = "vtpeer"
	}
	if v.Replicas == 0 {
		v.Replicas = 1
	}
	if v.Heartbeat == 0 {
		v.Heartbeat = 500 * time.Millisecond
	}
	if v.DeadAfter == 0 {
		v.DeadAfter = 3 * time.Second
	}
	if v.Shards == 0 {
		v.Shards = 64
	}
	if v.EmptyRoomTTL == 0 {
		v.EmptyRoomTTL = time.Minute
	}
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	return v
}

func (o *Options) validate() error {
	switch {
	case !validToken(o.NodeID) || !validToken(o.Prefix):
		return fmt.Errorf("%w: NodeID and Prefix must be [A-Za-z0-9_-]", ErrBadOptions)
	case o.Replicas < 1 || o.Replicas > 5:
		return fmt.Errorf("%w: Replicas must be 1 to 5", ErrBadOptions)
	case o.Heartbeat <= 0 || o.DeadAfter < 2*o.Heartbeat:
		return fmt.Errorf("%w: DeadAfter must be at least two Heartbeats", ErrBadOptions)
	case o.Shards < 1:
		return fmt.Errorf("%w: Shards must be positive", ErrBadOptions)
	case o.EmptyRoomTTL < time.Second:
		return fmt.Errorf("%w: EmptyRoomTTL must be at least 1s", ErrBadOptions)
	}
	return nil
}

// validToken reports whether s is a non-empty NATS subject token of
// [A-Za-z0-9_-].
func validToken(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

// Cluster is the signal.Cluster on NATS. See the package doc.
type Cluster struct {
	opts   Options
	log    *slog.Logger
	nc     *nats.Conn
	kv     jetstream.KeyValue
	bucket string

	writeMu sync.Mutex
	queues  map[string]*roomQueue // by key: the rooms being written (roomwrite.go)
	leaves  map[pendingLeave]bool // leaves to retry (leaveretry.go)

	// tellMu makes the states of a room told to the node (tell, retell)
	// one at a time, so that a corrected state at a revision (a dead node's
	// members hidden) is never overtaken by the uncorrected one; striped by
	// room (tellLock), so that rooms do not wait for each other.
	tellMu [64]sync.Mutex

	mu    sync.Mutex
	node  signal.Node
	rooms map[string]*roomState // by key; every room of the bucket
	seen  map[string]time.Time  // node id → last heartbeat
	dead  map[string]bool       // nodes not heard for DeadAfter: their members are hidden
	start time.Time
	// Since when the room bucket has not answered, and the node been
	// disconnected from NATS (zero: it has, it is not); why the node has
	// lost its cluster (nil: it has not).
	silentSince, offlineSince time.Time
	lost                      error

	shards []chan envelope
	done   chan struct{} // closed by Close
	subs   []*nats.Subscription
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// roomState is a room as this node last saw it; a room that emptied stays
// as a tombstone (no members) so that an older state cannot bring it back.
// Every node keeps one for every room of the cluster, so the members are
// kept in their binary encoding (roomvalue.go: about 30 bytes a member
// instead of about 120 decoded), with the nodes that hold them at hand for
// Forward and the dead-node checks.
type roomState struct {
	name    string
	rev     uint64
	value   []byte   // appendRoom(nil, "", members); nil when emptied
	nodes   []string // the nodes holding members, each once, interned
	emptied time.Time
}

// members decodes the room's members.
func (st *roomState) members() []signal.Member {
	if len(st.value) == 0 {
		return nil
	}
	var v roomValue
	if err := decodeRoom(st.value, &v); err != nil {
		return nil // not reached: the value is one appendRoom wrote
	}
	return v.Members
}

// nodeOf returns the node holding the member with peerID ("" when none).
func (st *roomState) nodeOf(peerID string) string {
	if i := memberNode(st.value, peerID); i >= 0 && i < len(st.nodes) {
		return st.nodes[i]
	}
	return ""
}

var _ signal.Cluster = (*Cluster)(nil)

// New joins the cluster NATS connection nc reaches: it creates (or opens)
// the room bucket, reads every room and starts watching them, announcing
// this node and receiving the frames for its members. It waits for
// JetStream until ctx ends (a cluster that is starting elects its leaders
// first). The caller keeps nc and closes it after Close.
func New(ctx context.Context, nc *nats.Conn, opts *Options) (*Cluster, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	kv, err := createBucket(ctx, js, o.Logger, jetstream.KeyValueConfig{
		Bucket:      o.Prefix + "-rooms",
		Description: "vtpeer room membership",
		History:     1,
		Storage:     roomStorage(o.Replicas),
		Replicas:    o.Replicas,
		// Lets a purge marker (an emptied room) carry a TTL, so that it
		// does not stay in the bucket for ever.
		LimitMarkerTTL: o.EmptyRoomTTL,
	})
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		opts:   o,
		log:    o.Logger,
		nc:     nc,
		kv:     kv,
		bucket: o.Prefix + "-rooms",
		queues: make(map[string]*roomQueue),
		leaves: make(map[pendingLeave]bool),
		rooms:  make(map[string]*roomState),
		seen:   make(map[string]time.Time),
		dead:   make(map[string]bool),
		start:  time.Now(),
		done:   make(chan struct{}),
	}
	wctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch rooms: %w", err)
	}
	c.shards = make([]chan envelope, o.Shards)
	for i := range c.shards {
		ch := make(chan envelope, 64)
		c.shards[i] = ch
		c.wg.Go(func() { c.deliverLoop(ch) })
	}
	for subj, h := range map[string]nats.MsgHandler{
		o.Prefix + ".hb":            c.onHeartbeat,
		o.Prefix + ".n." + o.NodeID: c.onFrame,
		o.Prefix + ".rooms":         c.onRoomState,
	} {
		sub, err := nc.Subscribe(subj, h)
		if err != nil {
			c.Close()
			_ = w.Stop()
			return nil, fmt.Errorf("subscribe %s: %w", subj, err)
		}
		_ = sub.SetPendingLimits(-1, 256<<20)
		c.subs = append(c.subs, sub)
	}
	initial := make(chan struct{})
	c.wg.Go(func() { c.watchLoop(w, initial) })
	select {
	case <-initial:
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("read the rooms: %w", context.Cause(ctx))
	}
	c.heartbeat()
	c.wg.Go(func() { c.presenceLoop(wctx) })
	c.wg.Go(func() { c.upkeepLoop(wctx) })
	return c, nil
}

// createBucket creates or opens the bucket, retrying while JetStream is
// not ready (a starting cluster has no meta leader yet).
func createBucket(ctx context.Context, js jetstream.JetStream, log *slog.Logger, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		kv, err := js.CreateOrUpdateKeyValue(actx, cfg)
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrStreamInvalidConfig && strings.Contains(apiErr.Description, "storage type") {
			// A bucket made with the other storage (by an earlier version,
			// in memory, or with another replica count): its storage
			// cannot change in place. Use it as it is.
			log.Warn("room bucket keeps the storage it was made with: delete it (nats kv del) while no node runs to have it made again",
				"bucket", cfg.Bucket, "wanted", cfg.Storage.String())
			kv, err = js.KeyValue(actx, cfg.Bucket)
		}
		cancel()
		if err == nil {
			return kv, nil
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("create bucket %s: %w (last: %v)", cfg.Bucket, context.Cause(ctx), err)
		case <-t.C:
		}
	}
}

// roomStorage is where the room bucket lives. Replicated, on disk: a node
// restarted on its store comes back with its replica and its Raft log, and
// counts toward a quorum at once. A memory replica comes back empty, and
// nats-server (2.11+) does not count an empty log's vote: with another node
// gone before the restarted one caught up, the bucket had no leader until
// that node returned (docs/SCALING.md "Failure behaviour"). One copy, in
// memory: there is no quorum to keep, and the members of a node that
// restarts are gone with their connections anyway.
func roomStorage(replicas int) jetstream.StorageType {
	if replicas > 1 {
		return jetstream.FileStorage
	}
	return jetstream.MemoryStorage
}

// jsErrStreamInvalidConfig is JetStream's error code for a stream
// configuration it refuses (JSStreamInvalidConfigF), such as a change of
// storage type.
const jsErrStreamInvalidConfig = 10052

// Close stops watching, announcing and delivering. It does not remove the
// members this node holds: close the signal.Server first, whose members
// leave, and close the NATS connection after.
func (c *Cluster) Close() error {
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return nil
	default:
	}
	close(c.done)
	c.mu.Unlock()
	c.cancel()
	for _, s := range c.subs {
		_ = s.Unsubscribe()
	}
	c.wg.Wait()
	return nil
}

// NodeID implements signal.Cluster.
func (c *Cluster) NodeID() string { return c.opts.NodeID }

// Attach implements signal.Cluster.
func (c *Cluster) Attach(n signal.Node) func() {
	c.mu.Lock()
	c.node = n
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.node = nil
		c.mu.Unlock()
	}
}

// Ready implements signal.Cluster: the NATS connection is up, the node
// has caught up since its start (Options.CaughtUp), has not lost its
// cluster (lostLocked), and the room bucket has answered
// within the last 4 × DeadAfter. A bucket silent for less (the JetStream
// leader election that follows a node's death: 4 to 10 s) does not make
// the node unready: joins meanwhile wait for the new leader, as long as
// they can (signal's 5 s per call).
func (c *Cluster) Ready() error {
	if !c.nc.IsConnected() {
		return fmt.Errorf("%w: not connected to nats", signal.ErrUnavailable)
	}
	if c.opts.CaughtUp != nil {
		if err := c.opts.CaughtUp(); err != nil {
			return fmt.Errorf("%w: %w", signal.ErrUnavailable, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost != nil {
		return c.lost
	}
	if !c.silentSince.IsZero() {
		if d := time.Since(c.silentSince); d >= 4*c.opts.DeadAfter {
			return fmt.Errorf("%w: room bucket unreachable for %s", signal.ErrUnavailable, d.Round(time.Millisecond))
		}
	}
	return nil
}

// roomKey is the bucket key of a room.
func roomKey(room string) string {
	h := sha256.Sum256([]byte(room))
	return "r." + hex.EncodeToString(h[:16])
}

// setState records a room state when it is newer than the one known and
// returns whether it was.
func (c *Cluster) setStateLocked(key, name string, rev uint64, members []signal.Member) bool {
	st := c.rooms[key]
	if st == nil {
		st = &roomState{}
		c.rooms[key] = st
	}
	if rev <= st.rev {
		return false
	}
	if name != "" {
		st.name = name
	}
	st.rev, st.value, st.nodes = rev, nil, nil
	if len(members) == 0 {
		st.emptied = time.Now()
		return true
	}
	st.value = appendRoom(nil, "", members)
	for _, m := range members {
		if !slices.Contains(st.nodes, m.Node) {
			st.nodes = append(st.nodes, unique.Make(m.Node).Value())
		}
	}
	return true
}

// tell records a room state and, when it is news, tells the node (without
// the members of nodes found dead, see visibleLocked).
func (c *Cluster) tell(key, name string, rev uint64, members []signal.Member) {
	mu := c.tellLock(key)
	mu.Lock()
	defer mu.Unlock()
	c.mu.Lock()
	news := c.setStateLocked(key, name, rev, members)
	var v signal.RoomView
	if news {
		v = signal.RoomView{Room: c.rooms[key].name, Rev: rev, Members: c.visibleLocked(members)}
	}
	node := c.node
	c.mu.Unlock()
	if news && node != nil && v.Room != "" {
		node.RoomChanged(v)
	}
}

// tellLock is the lock of tellMu that serialises the states of key.
func (c *Cluster) tellLock(key string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return &c.tellMu[h.Sum32()%uint32(len(c.tellMu))]
}

// visibleLocked returns members without those of the nodes found dead
// (members itself when there are none). c.mu must be held.
func (c *Cluster) visibleLocked(members []signal.Member) []signal.Member {
	if len(c.dead) == 0 || !slices.ContainsFunc(members, func(m signal.Member) bool { return c.dead[m.Node] }) {
		return members
	}
	return slices.DeleteFunc(slices.Clone(members), func(m signal.Member) bool { return c.dead[m.Node] })
}

// watchLoop applies every change of the bucket; initial is closed once the
// rooms that existed are read.
func (c *Cluster) watchLoop(w jetstream.KeyWatcher, initial chan struct{}) {
	defer func() { _ = w.Stop() }()
	for e := range w.Updates() {
		if e == nil {
			if initial != nil {
				close(initial)
				initial = nil
			}
			continue
		}
		var v roomValue
		if e.Operation() == jetstream.KeyValuePut {
			if err := decodeRoom(e.Value(), &v); err != nil {
				c.log.Warn("unreadable room state", "key", e.Key(), "err", err)
				continue
			}
		}
		c.tell(e.Key(), v.Room, e.Revision(), v.Members)
	}
}

// announce tells the other nodes a room state this node wrote, on core
// NATS, besides the bucket's watch: the watch is an ordered consumer that
// lives on one node (the stream leader's), and stalls for 10 s or more
// when that node dies (nats.go resets it after two missed 5 s heartbeats),
// while the survivors' members must hear the failed-over clients' joins at
// once. The watch stays the reliable path; a state told twice is applied
// once (revisions).
func (c *Cluster) announce(key string, rev uint64, value []byte) {
	b := appendEnvelope(make([]byte, 0, 12+len(key)+len(value)), envelope{rev: rev, room: key, frame: value})
	if err := c.nc.Publish(c.opts.Prefix+".rooms", b); err != nil {
		c.log.Debug("announce a room state failed", "err", err)
	}
}

// onRoomState receives a room state another node wrote (announce).
func (c *Cluster) onRoomState(m *nats.Msg) {
	e, err := decodeEnvelope(m.Data)
	if err == nil {
		c.mu.Lock()
		st := c.rooms[e.room]
		known := st != nil && st.rev >= e.rev
		c.mu.Unlock()
		if known { // the watch (or this node's own write) was first
			return
		}
	}
	var v roomValue
	if err == nil {
		err = decodeRoom(e.frame, &v)
	}
	if err == nil && roomKey(v.Room) != e.room {
		err = fmt.Errorf("%w: key does not match the room", ErrBadEnvelope)
	}
	if err != nil {
		c.log.Warn("announced room state dropped", "reason", err)
		return
	}
	c.tell(e.room, v.Room, e.rev, v.Members)
}

// deliverLoop hands forwarded frames of one shard to the node, first
// catching up with the room when the sender had seen a newer state.
func (c *Cluster) deliverLoop(ch <-chan envelope) {
	for {
		var e envelope
		select {
		case e = <-ch:
		case <-c.done:
			return
		}
		key := roomKey(e.room)
		c.mu.Lock()
		st := c.rooms[key]
		behind := st == nil || st.rev < e.rev
		c.mu.Unlock()
		if behind {
			c.catchUp(key)
		}
		c.mu.Lock()
		node := c.node
		c.mu.Unlock()
		if node != nil {
			node.Deliver(e.room, e.to, e.frame)
		}
	}
}

// catchUp reads a room's state from the bucket and applies it.
func (c *Cluster) catchUp(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e, err := c.kv.Get(ctx, key)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			c.log.Debug("catch up with a room failed", "err", err)
		}
		return
	}
	var v roomValue
	if decodeRoom(e.Value(), &v) == nil {
		c.tell(key, v.Room, e.Revision(), v.Members)
	}
}

// onFrame receives a frame another node forwarded to this one.
func (c *Cluster) onFrame(m *nats.Msg) {
	e, err := decodeEnvelope(m.Data)
	if err != nil {
		c.log.Warn("forwarded frame dropped", "reason", err)
		return
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(e.room))
	select { // a full shard holds this subscription: NATS buffers the rest
	case c.shards[h.Sum32()%uint32(len(c.shards))] <- e:
	case <-c.done:
	}
}

// Forward implements signal.Cluster: one message per node that holds a
// recipient.
func (c *Cluster) Forward(room, to string, rev uint64, frame []byte) error {
	key := roomKey(room)
	var buf [8]string
	nodes := buf[:0]
	c.mu.Lock()
	if st := c.rooms[key]; st != nil {
		if to == "" {
			for _, n := range st.nodes {
				if n != c.opts.NodeID {
					nodes = append(nodes, n)
				}
			}
		} else if n := st.nodeOf(to); n != "" && n != c.opts.NodeID {
			nodes = append(nodes, n)
		}
	}
	c.mu.Unlock()
	if len(nodes) == 0 {
		return nil
	}
	env := appendEnvelope(make([]byte, 0, 12+len(room)+len(to)+len(frame)), envelope{rev: rev, room: room, to: to, frame: frame})
	for _, n := range nodes {
		if err := c.nc.Publish(c.opts.Prefix+".n."+n, env); err != nil {
			return fmt.Errorf("forward to node %s: %w", n, err)
		}
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
